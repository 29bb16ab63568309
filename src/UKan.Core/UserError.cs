namespace UKan;

/// <summary>
/// An error the user can fix (bad path, bad option, wrong data). The CLI prints its message as one line and
/// exits with code 2; the message must say what is wrong and how to fix it. Subclasses mark the errors a caller may
/// want to tell apart (the HTTP service answers an image over the pixel limit differently from a corrupt one).
/// </summary>
public class UserError(string message, Exception? inner = null) : Exception(message, inner);
