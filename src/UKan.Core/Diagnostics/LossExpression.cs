using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Diagnostics;

/// <summary>
/// Evaluates the loss a fixture states in its json (e.g. "sum(y * linspace(-1,1,out)) + 0.1*sum(y^2)") so that
/// fixtures with other losses need no new test code. Grammar: + - * / ^, numbers, names bound by the caller
/// (tensors or numbers), and sum(e), mean(e), linspace(a, b, n). linspace is made on the device of the bound tensors,
/// so the same expression runs on a GPU (ukan selftest) and in the CPU tests.
/// </summary>
public sealed class LossExpression(string text, IReadOnlyDictionary<string, object> names)
{
    int pos;
    readonly Device device = names.Values.OfType<Tensor>().FirstOrDefault()?.device ?? CPU;

    public Tensor Evaluate()
    {
        pos = 0;
        var value = Expr();
        Skip();
        if (pos != text.Length) throw new FormatException($"unexpected '{text[pos..]}' in loss '{text}'");
        return AsTensor(value);
    }

    object Expr()
    {
        var left = Term();
        while (true)
        {
            Skip();
            if (Eat('+')) left = Binary(left, Term(), (a, b) => a + b, (a, b) => a + b);
            else if (Eat('-')) left = Binary(left, Term(), (a, b) => a - b, (a, b) => a - b);
            else return left;
        }
    }

    object Term()
    {
        var left = Power();
        while (true)
        {
            Skip();
            if (Eat('*')) left = Binary(left, Power(), (a, b) => a * b, (a, b) => a * b);
            else if (Eat('/')) left = Binary(left, Power(), (a, b) => a / b, (a, b) => a / b);
            else return left;
        }
    }

    object Power()
    {
        var b = Unary();
        Skip();
        if (Eat('^')) return Binary(b, Unary(), (x, e) => x.pow(e), Math.Pow);
        return b;
    }

    object Unary()
    {
        Skip();
        if (Eat('-')) return Binary(0.0, Unary(), (a, b) => a - b, (a, b) => a - b);
        return Primary();
    }

    object Primary()
    {
        Skip();
        if (Eat('('))
        {
            var v = Expr();
            Expect(')');
            return v;
        }
        int start = pos;
        if (char.IsDigit(text[pos]) || text[pos] == '.')
        {
            while (pos < text.Length && (char.IsDigit(text[pos]) || text[pos] is '.' or 'e' or 'E' || (text[pos] is '-' or '+' && text[pos - 1] is 'e' or 'E'))) pos++;
            return double.Parse(text[start..pos], System.Globalization.CultureInfo.InvariantCulture);
        }
        while (pos < text.Length && (char.IsLetterOrDigit(text[pos]) || text[pos] == '_')) pos++;
        var name = text[start..pos];
        Skip();
        if (!Eat('(')) return names.TryGetValue(name, out var bound) ? bound : throw new FormatException($"unknown name '{name}' in loss '{text}'");
        var args = new List<object>();
        Skip();
        if (!Eat(')'))
        {
            do args.Add(Expr()); while (Eat(','));
            Expect(')');
        }
        return name switch
        {
            "sum" => AsTensor(args[0]).sum(),
            "mean" => AsTensor(args[0]).mean(),
            "linspace" => linspace(Num(args[0]), Num(args[1]), (long)Num(args[2]), device: device),
            _ => throw new FormatException($"unknown function '{name}' in loss '{text}'"),
        };
    }

    static object Binary(object a, object b, Func<Tensor, Tensor, Tensor> t, Func<double, double, double> d) =>
        (a, b) switch
        {
            (double x, double y) => (object)d(x, y),
            _ => (object)t(AsTensor(a), AsTensor(b)),
        };

    static Tensor AsTensor(object v) => v switch
    {
        Tensor t => t,
        double d => tensor((float)d),
        int i => tensor((float)i),
        _ => throw new FormatException($"not a value: {v}"),
    };

    static double Num(object v) => v switch
    {
        double d => d,
        int i => i,
        Tensor t => t.item<float>(),
        _ => throw new FormatException($"not a number: {v}"),
    };

    void Skip() { while (pos < text.Length && char.IsWhiteSpace(text[pos])) pos++; }
    bool Eat(char c) { Skip(); if (pos < text.Length && text[pos] == c) { pos++; return true; } return false; }
    void Expect(char c) { if (!Eat(c)) throw new FormatException($"expected '{c}' at {pos} in loss '{text}'"); }
}
