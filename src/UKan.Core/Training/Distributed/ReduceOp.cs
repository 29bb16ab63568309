namespace UKan.Training.Distributed;

/// <summary>How <see cref="ICollectives.AllReduce"/> combines the workers' buffers.</summary>
public enum ReduceOp { Sum, Average, Max }
