namespace UKan;

/// <summary>
/// The environment variables that turn one of our speed-ups off for a comparison (UKAN_FOLD_BN, UKAN_WARMUP,
/// UKAN_GRAD_GATHER, UKAN_DDP_OVERLAP, UKAN_FUSED_BN_RELU, UKAN_FUSED_KAN_WEIGHT, UKAN_FUSED_UPSAMPLE, UKAN_FUSED_MAXPOOL,
/// UKAN_FUSED_LAYER_NORM, UKAN_FUSED_BIAS_RELU, UKAN_FUSED_CONV, UKAN_FUSED_KAN_INPUT_GRAD, UKAN_KAN_TF32X3, ...): each is on unless set to <c>off</c>, <c>0</c> or <c>false</c> (any case,
/// spaces around ignored), read the same way
/// everywhere. UKAN_KAN_PRODUCT_KERNELS (all our product kernels among every product's plans: a comparison, whose timing slows the first steps) is the other way round: off unless
/// set to <c>on</c>, <c>1</c> or <c>true</c>.
/// </summary>
public static class EnvironmentSwitch
{
    /// <summary>Whether <paramref name="value"/> (a variable's value, null when unset) turns the switch off.</summary>
    public static bool IsOff(string? value) => value?.Trim().ToLowerInvariant() is "off" or "0" or "false";

    /// <summary>Whether <paramref name="value"/> turns a switch that is off by default on.</summary>
    public static bool IsOn(string? value) => value?.Trim().ToLowerInvariant() is "on" or "1" or "true";

    /// <summary>Whether the environment variable <paramref name="name"/> turns its off-by-default switch on.</summary>
    public static bool IsOnIn(string name) => IsOn(Environment.GetEnvironmentVariable(name));

    /// <summary>Whether the environment variable <paramref name="name"/> turns its switch off.</summary>
    public static bool IsOffIn(string name) => IsOff(Environment.GetEnvironmentVariable(name));
}
