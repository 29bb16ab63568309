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

    /// <summary>
    /// The learning rate Diffusion U-KAN trains with (Diffusion_UKAN/Diffusion/Train.py: GradualWarmupScheduler of
    /// Scheduler.py with multiplier m and warm_epoch = epochs / 10, handing over to CosineAnnealingLR(T_max = epochs,
    /// eta_min = 0) on the multiplied rate), stepped once per epoch e = 0, 1, ...:
    /// lr_e = lr_0 ((m − 1) e / w + 1) while e &lt; w, then m lr_0 (1 + cos(π (e − w) / epochs)) / 2.
    /// The two pieces meet at m lr_0 for e = w. The cosine runs over all epochs, not epochs − w, as the reference's
    /// T_max does, so it ends above 0. w is at least 1 so that runs shorter than ten epochs do not divide by zero.
    /// </summary>
    public static double WarmupCosine(double baseLr, int epoch, int totalEpochs, double multiplier)
    {
        int warm = Math.Max(1, totalEpochs / 10);
        if (epoch < warm) return baseLr * ((multiplier - 1) * epoch / warm + 1);
        return baseLr * multiplier * (1 + Math.Cos(Math.PI * (epoch - warm) / totalEpochs)) / 2;
    }
}
