namespace UKan.Training;

/// <summary>Learning-rate schedules as closed forms of the epoch (one place for each formula).</summary>
public static class LearningRateSchedules
{
    /// <summary>
    /// CosineAnnealingLR(T_max, eta_min) stepped once per epoch, as U-KAN trains (Seg_UKAN/train.py):
    /// lr_e = eta_min + (lr_0 − eta_min)(1 + cos(π e / T_max)) / 2 for epoch e = 0, 1, ...
    /// </summary>
    public static double Cosine(double baseLr, int epoch, int totalEpochs, double minLr) =>
        minLr + (baseLr - minLr) * (1 + Math.Cos(Math.PI * epoch / totalEpochs)) / 2;
}
