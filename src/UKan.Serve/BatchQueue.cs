using System.Diagnostics;
using System.Threading.Channels;
using UKan.Data;

namespace UKan.Serve;

/// <summary>
/// The requests waiting for the model, run in micro-batches: the first waiting image opens a batch, which takes up
/// to <c>maxBatch</c> images arriving within <c>window</c> and goes through the network in one forward pass (on a GPU
/// a batch of 8 costs little more than one image). Bounded: when <c>capacity</c> requests wait, new ones are refused
/// (the caller answers 503) instead of queueing without end. One batch at a time; decoding happens before, on the
/// requests' own threads.
/// </summary>
sealed class BatchQueue : IAsyncDisposable
{
    sealed record Job(Raster Image, TaskCompletionSource<SegmentationResult> Done, CancellationToken Aborted);

    readonly Channel<Job> channel;
    readonly Segmenter segmenter;
    readonly int maxBatch;
    readonly TimeSpan window;
    readonly Task loop;
    long batches, images;
    int inBatch;

    public BatchQueue(Segmenter segmenter, int capacity, int maxBatch, TimeSpan window)
    {
        this.segmenter = segmenter;
        this.maxBatch = maxBatch;
        this.window = window;
        channel = Channel.CreateBounded<Job>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        loop = Task.Run(RunAsync);
    }

    /// <summary>Forward passes run so far.</summary>
    public long Batches => Interlocked.Read(ref batches);

    /// <summary>Images segmented so far.</summary>
    public long Images => Interlocked.Read(ref images);

    /// <summary>Requests queued and not yet taken into a batch.</summary>
    public int Waiting => channel.Reader.Count;

    /// <summary>Images taken into the batch being gathered or run through the network; 0 between batches.</summary>
    public int InBatch => Volatile.Read(ref inBatch);

    /// <summary>Queues an image; null when the queue is full (or closed for shutdown).</summary>
    public Task<SegmentationResult>? TryEnqueue(Raster image, CancellationToken aborted)
    {
        var job = new Job(image, new TaskCompletionSource<SegmentationResult>(TaskCreationOptions.RunContinuationsAsynchronously), aborted);
        return channel.Writer.TryWrite(job) ? job.Done.Task : null;
    }

    async Task RunAsync()
    {
        var reader = channel.Reader;
        var batch = new List<Job>(maxBatch);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            long deadline = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
            while (batch.Count < maxBatch)
            {
                if (reader.TryRead(out var job))
                {
                    // A client that went away no longer needs its forward pass.
                    if (job.Aborted.IsCancellationRequested) job.Done.TrySetCanceled(job.Aborted);
                    else batch.Add(job);
                    Volatile.Write(ref inBatch, batch.Count);
                    continue;
                }
                var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                if (batch.Count == 0 || left <= TimeSpan.Zero) break;
                using var timeout = new CancellationTokenSource(left);
                try { if (!await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false)) break; }
                catch (OperationCanceledException) { break; }
            }
            if (batch.Count == 0) continue;
            try
            {
                var results = await Task.Run(() => segmenter.Predict(batch.Select(j => j.Image).ToList())).ConfigureAwait(false);
                Interlocked.Increment(ref batches);
                Interlocked.Add(ref images, batch.Count);
                for (int i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(results[i]);
            }
            catch (Exception e)
            {
                foreach (var job in batch) job.Done.TrySetException(e);
            }
            finally { Volatile.Write(ref inBatch, 0); }
        }
    }

    /// <summary>Takes no more requests and finishes the ones already queued.</summary>
    public async ValueTask DisposeAsync()
    {
        channel.Writer.TryComplete();
        await loop.ConfigureAwait(false);
    }
}
