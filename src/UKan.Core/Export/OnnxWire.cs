using Google.Protobuf;

namespace UKan.Export;

/// <summary>
/// The part of the ONNX file format (onnx/onnx.proto3 of the ONNX project, the protobuf schema of <c>ModelProto</c>) that
/// the exporter writes, encoded field by field with Google.Protobuf's <see cref="CodedOutputStream"/>. Only writing is
/// needed here (ONNX Runtime reads the files back in the tests), so no generated message classes: each method below
/// returns one encoded message, and the field numbers are those of the schema, named where they are used.
/// </summary>
/// <remarks>Element types (TensorProto.DataType): FLOAT = 1, INT64 = 7. Attribute types: FLOAT = 1, INT = 2, STRING = 3,
/// FLOATS = 6, INTS = 7.</remarks>
public static class OnnxWire
{
    public const int Float = 1, Int64 = 7;

    /// <summary>A node attribute, already encoded (AttributeProto).</summary>
    public readonly record struct Attribute(byte[] Encoded)
    {
        public static Attribute Int(string name, long value) => new(Message(o =>
        {
            OnnxWire.Text(o, 1, name);
            o.WriteTag(20, WireFormat.WireType.Varint); o.WriteInt32(2);
            o.WriteTag(3, WireFormat.WireType.Varint); o.WriteInt64(value);
        }));

        public static Attribute Real(string name, float value) => new(Message(o =>
        {
            OnnxWire.Text(o, 1, name);
            o.WriteTag(20, WireFormat.WireType.Varint); o.WriteInt32(1);
            o.WriteTag(2, WireFormat.WireType.Fixed32); o.WriteFloat(value);
        }));

        public static Attribute Text(string name, string value) => new(Message(o =>
        {
            OnnxWire.Text(o, 1, name);
            o.WriteTag(20, WireFormat.WireType.Varint); o.WriteInt32(3);
            OnnxWire.Text(o, 4, value);
        }));

        public static Attribute Ints(string name, params long[] values) => new(Message(o =>
        {
            OnnxWire.Text(o, 1, name);
            o.WriteTag(20, WireFormat.WireType.Varint); o.WriteInt32(7);
            foreach (var v in values) { o.WriteTag(8, WireFormat.WireType.Varint); o.WriteInt64(v); }
        }));
    }

    /// <summary>TensorProto with raw little-endian data: dims = 1, data_type = 2, name = 8, raw_data = 9.</summary>
    public static byte[] Tensor(string name, int dataType, long[] dims, ReadOnlySpan<byte> rawLittleEndian)
    {
        var raw = UnsafeByteOperations.UnsafeWrap(rawLittleEndian.ToArray());
        return Message(o =>
        {
            foreach (var d in dims) { o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt64(d); }
            o.WriteTag(2, WireFormat.WireType.Varint); o.WriteInt32(dataType);
            Text(o, 8, name);
            o.WriteTag(9, WireFormat.WireType.LengthDelimited); o.WriteBytes(raw);
        });
    }

    /// <summary>NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.</summary>
    public static byte[] Node(string opType, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, IEnumerable<Attribute> attributes) =>
        Message(o =>
        {
            foreach (var i in inputs) Text(o, 1, i);
            foreach (var x in outputs) Text(o, 2, x);
            Text(o, 3, name);
            Text(o, 4, opType);
            foreach (var a in attributes) Bytes(o, 5, a.Encoded);
        });

    /// <summary>
    /// ValueInfoProto of a float tensor: name = 1, type = 2 → TypeProto.tensor_type = 1 → elem_type = 1, shape = 2 →
    /// TensorShapeProto.dim = 1 → dim_value = 1 (a number) or dim_param = 2 (a symbolic, dynamic axis).
    /// </summary>
    public static byte[] FloatValue(string name, IEnumerable<OnnxDim> dims)
    {
        var shape = Message(o =>
        {
            foreach (var d in dims)
                Bytes(o, 1, Message(m =>
                {
                    if (d.Symbol is string s) Text(m, 2, s);
                    else { m.WriteTag(1, WireFormat.WireType.Varint); m.WriteInt64(d.Size); }
                }));
        });
        var tensorType = Message(o => { o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt32(Float); Bytes(o, 2, shape); });
        return Message(o => { Text(o, 1, name); Bytes(o, 2, Message(t => Bytes(t, 1, tensorType))); });
    }

    /// <summary>GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.</summary>
    public static byte[] Graph(string name, IEnumerable<byte[]> nodes, IEnumerable<byte[]> initializers, IEnumerable<byte[]> inputs, IEnumerable<byte[]> outputs) =>
        Message(o =>
        {
            foreach (var n in nodes) Bytes(o, 1, n);
            Text(o, 2, name);
            foreach (var t in initializers) Bytes(o, 5, t);
            foreach (var i in inputs) Bytes(o, 11, i);
            foreach (var x in outputs) Bytes(o, 12, x);
        });

    /// <summary>
    /// ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, domain = 4, model_version = 5,
    /// doc_string = 6, graph = 7, opset_import = 8 (OperatorSetIdProto: domain = 1, version = 2; the default domain is
    /// the empty string), metadata_props = 14 (StringStringEntryProto: key = 1, value = 2).
    /// </summary>
    public static byte[] Model(long irVersion, int opset, string producer, string producerVersion, string doc, byte[] graph,
        IEnumerable<KeyValuePair<string, string>> metadata) =>
        Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt64(irVersion);
            Text(o, 2, producer);
            Text(o, 3, producerVersion);
            Text(o, 4, "ukan");
            o.WriteTag(5, WireFormat.WireType.Varint); o.WriteInt64(1);
            Text(o, 6, doc);
            Bytes(o, 7, graph);
            Bytes(o, 8, Message(s => { Text(s, 1, ""); s.WriteTag(2, WireFormat.WireType.Varint); s.WriteInt64(opset); }));
            foreach (var (key, value) in metadata) Bytes(o, 14, Message(e => { Text(e, 1, key); Text(e, 2, value); }));
        });

    static byte[] Message(Action<CodedOutputStream> write)
    {
        using var stream = new MemoryStream();
        using (var output = new CodedOutputStream(stream, leaveOpen: true))
        {
            write(output);
            output.Flush();
        }
        return stream.ToArray();
    }

    static void Text(CodedOutputStream o, int field, string value)
    {
        o.WriteTag(field, WireFormat.WireType.LengthDelimited);
        o.WriteString(value);
    }

    static void Bytes(CodedOutputStream o, int field, byte[] message)
    {
        o.WriteTag(field, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(UnsafeByteOperations.UnsafeWrap(message));
    }
}
