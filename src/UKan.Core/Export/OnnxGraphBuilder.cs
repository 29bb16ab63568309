using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using A = UKan.Export.OnnxWire.Attribute;

namespace UKan.Export;

/// <summary>
/// Collects an ONNX graph node by node: values are named by the builder (unique names), weights become initializers,
/// small constants are shared by value. <see cref="ToModel"/> encodes the whole model.
/// </summary>
public sealed class OnnxGraphBuilder(int opset)
{
    readonly List<byte[]> nodes = [];
    readonly List<byte[]> initializers = [];
    readonly List<byte[]> inputs = [];
    readonly List<byte[]> outputs = [];
    readonly Dictionary<string, string> constants = [];
    readonly HashSet<string> names = [];
    readonly Dictionary<string, int> counters = [];

    /// <summary>The ONNX operator set the graph is written for (the default domain).</summary>
    public int Opset { get; } = opset;

    public int NodeCount => nodes.Count;

    /// <summary>The operator types used, with their counts (for the export summary and the docs).</summary>
    public SortedDictionary<string, int> OpCounts { get; } = new(StringComparer.Ordinal);

    /// <summary>A graph input of float elements.</summary>
    public string Input(string name, params OnnxDim[] dims)
    {
        Claim(name);
        inputs.Add(OnnxWire.FloatValue(name, dims));
        return name;
    }

    /// <summary>Marks <paramref name="value"/> as a graph output named <paramref name="name"/> (through Identity when renamed).</summary>
    public void Output(string value, string name, params OnnxDim[] dims)
    {
        if (value != name) Node("Identity", [value], [], name);
        outputs.Add(OnnxWire.FloatValue(name, dims));
    }

    /// <summary>A float32 initializer holding <paramref name="t"/> (copied to the CPU, contiguous).</summary>
    public string Weight(string hint, Tensor t)
    {
        using var scope = NewDisposeScope();
        var host = t.detach().to(ScalarType.Float32).cpu().contiguous();
        var data = host.data<float>().ToArray();
        var name = Fresh(hint);
        initializers.Add(OnnxWire.Tensor(name, OnnxWire.Float, host.shape, MemoryMarshal.AsBytes(data.AsSpan())));
        return name;
    }

    /// <summary>A float32 constant of the given shape, shared with any equal one.</summary>
    public string Floats(long[] dims, params float[] values)
    {
        var key = $"f[{string.Join(',', dims)}]:{string.Join(',', values.Select(v => BitConverter.SingleToInt32Bits(v)))}";
        if (constants.TryGetValue(key, out var known)) return known;
        var name = Fresh("const");
        initializers.Add(OnnxWire.Tensor(name, OnnxWire.Float, dims, MemoryMarshal.AsBytes(values.AsSpan())));
        return constants[key] = name;
    }

    /// <summary>A float32 scalar constant.</summary>
    public string Scalar(float value) => Floats([], value);

    /// <summary>A 1-D int64 constant (shapes, axes, slice bounds), shared with any equal one.</summary>
    public string Ints(params long[] values)
    {
        var key = $"i:{string.Join(',', values)}";
        if (constants.TryGetValue(key, out var known)) return known;
        var name = Fresh("ints");
        initializers.Add(OnnxWire.Tensor(name, OnnxWire.Int64, [values.Length], MemoryMarshal.AsBytes(values.AsSpan())));
        return constants[key] = name;
    }

    /// <summary>Adds a node with one output and returns the output's name ("" in inputs marks an omitted optional input).</summary>
    public string Op(string opType, string[] operands, params A[] attributes) => Node(opType, operands, attributes, null);

    string Node(string opType, string[] operands, A[] attributes, string? output)
    {
        var result = output ?? Fresh(opType.ToLowerInvariant());
        if (output is not null) Claim(output);
        nodes.Add(OnnxWire.Node(opType, $"{opType}_{nodes.Count}", operands, [result], attributes));
        OpCounts[opType] = OpCounts.GetValueOrDefault(opType) + 1;
        return result;
    }

    // Shorthands for the operators used most.
    public string Add(string a, string b) => Op("Add", [a, b]);
    public string Sub(string a, string b) => Op("Sub", [a, b]);
    public string Mul(string a, string b) => Op("Mul", [a, b]);
    public string Div(string a, string b) => Op("Div", [a, b]);
    public string MatMul(string a, string b) => Op("MatMul", [a, b]);
    public string Relu(string x) => Op("Relu", [x]);
    public string Unsqueeze(string x, params long[] axes) => Op("Unsqueeze", [x, Ints(axes)]);
    public string Reshape(string x, params long[] shape) => Op("Reshape", [x, Ints(shape)]);
    public string Transpose(string x, params long[] perm) => Op("Transpose", [x], A.Ints("perm", perm));
    public string Slice(string x, long start, long end, long axis) => Op("Slice", [x, Ints(start), Ints(end), Ints(axis)]);

    /// <summary>The encoded ModelProto.</summary>
    public byte[] ToModel(string graphName, string producerVersion, string doc, IEnumerable<KeyValuePair<string, string>> metadata) =>
        OnnxWire.Model(IrVersion(Opset), Opset, "ukan", producerVersion, doc,
            OnnxWire.Graph(graphName, nodes, initializers, inputs, outputs), metadata);

    /// <summary>
    /// The IR version that goes with an operator set (the ONNX versioning table): opsets 17–18 were released with IR 8,
    /// 19–20 with IR 9, 21 with IR 10. A reader refuses a file whose IR version is older than its opset needs.
    /// </summary>
    public static long IrVersion(int opset) => opset switch { <= 18 => 8, <= 20 => 9, _ => 10 };

    string Fresh(string hint)
    {
        int n = counters.GetValueOrDefault(hint);
        string name;
        do name = n == 0 ? hint : $"{hint}_{n}"; while (names.Contains(name) && ++n > 0);
        counters[hint] = n + 1;
        names.Add(name);
        return name;
    }

    void Claim(string name)
    {
        if (!names.Add(name)) throw new InvalidOperationException($"ONNX value name {name} used twice");
    }
}
