using UKan.Cli;

// A oneDNN probe process (see OneDnnIsa) does only that.
if (OneDnnProbeChild.Requested) return OneDnnProbeChild.Run();
// Every ukan process runs with the malloc settings of docs/platform.md §4 (a training step on CPU is an order of
// magnitude slower without them) and the oneDNN ISA limit chosen for this CPU; both are read only at process start,
// so re-execute once with them set.
if (StartupReexec.TryReexec(args) is int childExitCode) return childExitCode;
return CommandLine.Run(args);
