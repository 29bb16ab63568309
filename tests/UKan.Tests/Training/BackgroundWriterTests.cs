using UKan.Training;

namespace UKan.Tests.Training;

/// <summary>The trainer's background writes: in order, failures raised on the training thread, never a torn file.</summary>
public class BackgroundWriterTests
{
    static string TempFile() => Path.Combine(Path.GetTempPath(), $"ukan-bw-{Guid.NewGuid():N}", "file.bin");

    [Fact]
    public void Writes_run_in_the_order_they_were_queued()
    {
        var order = new System.Collections.Concurrent.ConcurrentQueue<int>();
        using var writer = new BackgroundWriter(maxPending: 2);
        for (int i = 0; i < 20; i++)
        {
            int k = i;
            writer.Enqueue(() => { Thread.Sleep(k % 3); order.Enqueue(k); });
        }
        writer.Flush();
        Assert.Equal(Enumerable.Range(0, 20), order);
    }

    [Fact]
    public void A_failed_write_is_raised_as_a_user_error_on_the_next_call_and_later_writes_are_skipped()
    {
        int after = 0, laterWrites = 0;
        using var writer = new BackgroundWriter();
        writer.Enqueue(() => throw new IOException("No space left on device"), after: () => Interlocked.Increment(ref after));
        var e = Assert.Throws<UserError>(() =>
        {
            // The failure surfaces on whichever call comes after it has happened.
            for (int i = 0; i < 100; i++) writer.Enqueue(() => Interlocked.Increment(ref laterWrites));
            writer.Flush();
        });
        Assert.Contains("No space left on device", e.Message);
        writer.Dispose();                     // waits for the queued jobs (the failure can be seen before its clean-up ran)
        Assert.Equal(1, after);               // the snapshot's clean-up ran although the write failed
        Assert.Equal(0, laterWrites);         // nothing after a failure is written (metrics must not outrun checkpoints)
    }

    [Fact]
    public void A_write_that_dies_halfway_leaves_the_previous_file_intact_and_no_temporary_file()
    {
        var path = TempFile();
        using (var writer = new BackgroundWriter())
        {
            writer.Enqueue(() => AtomicFile.WriteAllBytes(path, new byte[] { 1, 2, 3 }));
            writer.Flush();
            // The next checkpoint breaks off after part of its bytes (a full disk, a crash of the writer). The failure
            // surfaces on the Enqueue itself when the writer thread gets there first, else on Flush.
            Assert.Throws<UserError>(() =>
            {
                writer.Enqueue(() => AtomicFile.Write(path, s => { s.Write(new byte[1000]); throw new IOException("disk full"); }));
                writer.Flush();
            });
        }
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public async Task At_most_max_pending_writes_wait_and_the_wait_is_measured()
    {
        using var gate = new ManualResetEventSlim(false);
        using var writer = new BackgroundWriter(maxPending: 1);
        writer.Enqueue(() => gate.Wait(TestContext.Current.CancellationToken));
        var release = Task.Run(() => { Thread.Sleep(200); gate.Set(); }, TestContext.Current.CancellationToken);
        writer.Enqueue(() => { });            // must wait for the first write to end
        Assert.True(writer.Waited >= TimeSpan.FromMilliseconds(150), $"waited only {writer.Waited}");
        writer.Flush();
        await release;
    }
}
