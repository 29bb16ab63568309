namespace UKan.Data;

/// <summary>Runs batch preparation on the thread pool, a few batches ahead of the consumer (the GPU).</summary>
public static class Prefetch
{
    public static IEnumerable<T> Ahead<T>(IEnumerable<Func<T>> producers, int depth = 2, CancellationToken cancel = default)
    {
        var queue = new Queue<Task<T>>();
        using var e = producers.GetEnumerator();
        bool more = true;
        void Fill()
        {
            while (more && queue.Count < depth)
            {
                if (!(more = e.MoveNext())) break;
                var make = e.Current;
                queue.Enqueue(Task.Run(make, cancel));
            }
        }
        Fill();
        while (queue.Count > 0)
        {
            var next = queue.Dequeue();
            Fill();
            yield return next.GetAwaiter().GetResult();
        }
    }
}
