using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace UKan.Checkpoints;

/// <summary>A reference to a Python global (module.name), as the pickle names it.</summary>
public sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A call of an allowed global, kept as data: what torch.save wrote, never executed.</summary>
public sealed record PyCall(PyGlobal Callable, object?[] Args);

/// <summary>A persistent id: a storage of a .pth archive ('storage', type, key, location, numel).</summary>
public sealed record PyPersistent(object?[] Id);

/// <summary>An OrderedDict / dict: insertion-ordered key-value pairs.</summary>
public sealed class PyDict
{
    public List<KeyValuePair<object, object?>> Items { get; } = [];
    public void Set(object key, object? value)
    {
        int i = Items.FindIndex(kv => Equals(kv.Key, key));
        if (i >= 0) Items[i] = new(key, value); else Items.Add(new(key, value));
    }
}

/// <summary>
/// A pickle reader that understands the opcodes torch.save emits for state dicts and refuses every global a state
/// dict never needs, before anything could happen: it builds data, calls nothing. The pickle format is Python's
/// (protocols 2–5, pickletools documents each opcode); the allowed globals are the few torch uses to rebuild tensors.
/// </summary>
public sealed class RestrictedUnpickler
{
    /// <summary>The globals a PyTorch state dict uses; anything else is refused.</summary>
    public static readonly IReadOnlySet<string> AllowedGlobals = new HashSet<string>
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.BFloat16Storage",
        "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage",
    };

    readonly byte[] data;
    readonly string source;
    int pos;
    readonly List<object?> stack = [];
    readonly Stack<int> marks = new();
    readonly Dictionary<long, object?> memo = [];

    RestrictedUnpickler(byte[] data, string source) => (this.data, this.source) = (data, source);

    public static object? Load(byte[] pickle, string source) => new RestrictedUnpickler(pickle, source).Run();

    object? Run()
    {
        while (true)
        {
            byte op = Byte();
            switch (op)
            {
                case 0x80: Byte(); break;                                   // PROTO
                case 0x95: pos += 8; break;                                 // FRAME (length is informational)
                case (byte)'.': return Pop();                               // STOP
                case (byte)'}': Push(new PyDict()); break;                  // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break;           // EMPTY_LIST
                case (byte)')': Push(Array.Empty<object?>()); break;        // EMPTY_TUPLE
                case (byte)'(': marks.Push(stack.Count); break;             // MARK
                case (byte)'0': Pop(); break;                               // POP
                case (byte)'1': PopMark(); break;                           // POP_MARK
                case (byte)'2': Push(stack[^1]); break;                     // DUP
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case (byte)'K': Push((long)Byte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case 0x8a: Push(Long(Byte())); break;                       // LONG1
                case 0x8b: Push(Long(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))); break;   // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;       // BINFLOAT
                case (byte)'X': Push(Utf8(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))); break;
                case 0x8c: Push(Utf8(Byte())); break;                       // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(checked((int)BinaryPrimitives.ReadInt64LittleEndian(Take(8))))); break;
                case (byte)'T': Push(Latin1(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))); break;   // BINSTRING
                case (byte)'U': Push(Latin1(Byte())); break;                // SHORT_BINSTRING
                case (byte)'B': Push(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4))).ToArray()); break;
                case (byte)'C': Push(Take(Byte()).ToArray()); break;
                case 0x8e: Push(Take(checked((int)BinaryPrimitives.ReadInt64LittleEndian(Take(8)))).ToArray()); break;
                case (byte)'t': Push(PopMark().ToArray()); break;           // TUPLE
                case 0x85: Push(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'l': Push(PopMark()); break;                     // LIST
                case (byte)'d': { var items = PopMark(); var d = new PyDict(); for (int i = 0; i + 1 < items.Count; i += 2) d.Set(Key(items[i]), items[i + 1]); Push(d); break; }
                case (byte)'a': { var v = Pop(); AsList(stack[^1]).Add(v); break; }             // APPEND
                case (byte)'e': { var items = PopMark(); AsList(stack[^1]).AddRange(items); break; }   // APPENDS
                case (byte)'s': { var v = Pop(); var k = Pop(); AsDict(stack[^1]).Set(Key(k), v); break; }   // SETITEM
                case (byte)'u': { var items = PopMark(); var d = AsDict(stack[^1]); for (int i = 0; i + 1 < items.Count; i += 2) d.Set(Key(items[i]), items[i + 1]); break; }
                case (byte)'q': memo[Byte()] = stack[^1]; break;            // BINPUT
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = stack[^1]; break;
                case 0x94: memo[memo.Count] = stack[^1]; break;             // MEMOIZE
                case (byte)'h': Push(Memo(Byte())); break;                  // BINGET
                case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case (byte)'c': Push(Global(Line(), Line())); break;        // GLOBAL
                case 0x93: { var name = Pop() as string; var module = Pop() as string; Push(Global(module ?? "?", name ?? "?")); break; }   // STACK_GLOBAL
                case (byte)'Q': Push(new PyPersistent(Pop() as object?[] ?? throw Bad("persistent id is not a tuple"))); break;   // BINPERSID
                case (byte)'R':                                             // REDUCE: callable(*args), kept as data
                case 0x81:                                                  // NEWOBJ: cls.__new__(cls, *args), likewise
                {
                    var args = Pop() as object?[] ?? throw Bad("call arguments are not a tuple");
                    var callable = Pop() as PyGlobal ?? throw Bad("call of something that is not an allowed global");
                    Push(callable.ToString() == "collections.OrderedDict" ? new PyDict() : new PyCall(callable, args));
                    break;
                }
                case (byte)'b':                                             // BUILD: the state of an object; an OrderedDict's is ignorable
                {
                    var state = Pop();
                    if (stack[^1] is PyCall call && call.Callable.Name.StartsWith("_rebuild_parameter")) break;
                    // OrderedDict's attributes (a state dict's _metadata of module versions) are not needed.
                    if (stack[^1] is PyDict && (state is null || state is PyDict || state is object?[])) break;
                    throw Bad($"BUILD on {stack[^1]?.GetType().Name ?? "None"}, which a state dict never needs");
                }
                default:
                    throw Bad($"pickle opcode 0x{op:x2} at byte {pos - 1}, which a PyTorch state dict never uses");
            }
        }
    }

    PyGlobal Global(string module, string name)
    {
        var g = new PyGlobal(module, name);
        if (!AllowedGlobals.Contains(g.ToString()))
            throw new UserError($"{source}: refuses to load: the pickle references '{g}', which a state dict never needs; only tensors and OrderedDicts are accepted (a file from an untrusted source can run code when loaded with torch.load).");
        return g;
    }

    static object Key(object? k) => k ?? throw new InvalidDataException("dictionary key is None");
    static List<object?> AsList(object? o) => o as List<object?> ?? throw new InvalidDataException("APPEND to a non-list");
    PyDict AsDict(object? o) => o as PyDict ?? throw Bad("SETITEM on something that is not a dict");

    object? Memo(long key) => memo.TryGetValue(key, out var v) ? v : throw Bad($"memo slot {key} was never stored");

    void Push(object? o) => stack.Add(o);

    object? Pop()
    {
        if (stack.Count == 0) throw Bad("stack underflow");
        var o = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return o;
    }

    List<object?> PopMark()
    {
        if (marks.Count == 0) throw Bad("missing MARK");
        int m = marks.Pop();
        var items = stack.GetRange(m, stack.Count - m);
        stack.RemoveRange(m, stack.Count - m);
        return items;
    }

    byte Byte() => pos < data.Length ? data[pos++] : throw Bad("the pickle ends early; the file is truncated");

    ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || pos + n > data.Length) throw Bad("the pickle ends early; the file is truncated");
        var s = data.AsSpan(pos, n);
        pos += n;
        return s;
    }

    string Utf8(int n) => Encoding.UTF8.GetString(Take(n));
    string Latin1(int n) => Encoding.Latin1.GetString(Take(n));

    string Line()
    {
        int end = Array.IndexOf(data, (byte)'\n', pos);
        if (end < 0) throw Bad("unterminated GLOBAL");
        var s = Encoding.ASCII.GetString(data, pos, end - pos);
        pos = end + 1;
        return s;
    }

    object Long(int n)
    {
        var bytes = Take(n);
        var v = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return v >= long.MinValue && v <= long.MaxValue ? (long)v : v;
    }

    UserError Bad(string what) => new($"{source}: not a readable PyTorch state dict ({what}).");
}
