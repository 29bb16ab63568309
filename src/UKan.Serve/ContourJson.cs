namespace UKan.Serve;

/// <summary>One outline in the JSON answer: its corner points as [x, y] pairs, and whether it bounds a hole.</summary>
sealed record ContourJson(bool Hole, int[][] Points);
