using UKan.Cli;

// Every ukan process runs with the malloc settings of docs/platform.md §4 (a training step on CPU is an order of
// magnitude slower without them); glibc reads them only at start, so re-execute once with them set.
if (MallocReexec.TryReexec(args) is int childExitCode) return childExitCode;
return CommandLine.Run(args);
