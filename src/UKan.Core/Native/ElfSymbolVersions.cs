using System.Buffers.Binary;
using System.Text;

namespace UKan.Native;

/// <summary>
/// Reads and edits the GNU symbol-versioning sections of a 64-bit little-endian ELF shared object.
/// </summary>
/// <remarks>
/// Why this exists: TorchSharp 0.107's <c>libLibTorchSharp.so</c> was linked by GCC 13 and so requires the
/// version <c>GLIBCXX_3.4.32</c>, which the libstdc++ of Debian 12 / Ubuntu 22.04 (GCC 12) does not define.
/// The only symbol bound to it, <c>_ZSt21ios_base_library_initv</c>, is a link-time marker never called at run
/// time. Marking that requirement weak (<c>VER_FLG_WEAK</c> in its <c>Elf64_Vernaux</c>) makes the dynamic
/// loader accept the library (docs/platform.md §2). Layouts follow the System V gABI and the LSB
/// "Symbol Versioning" chapter.
/// </remarks>
public static class ElfSymbolVersions
{
    const uint ShtGnuVerdef = 0x6ffffffd;
    const uint ShtGnuVerneed = 0x6ffffffe;
    /// <summary>Vernaux flag: a missing version is a warning, not an error.</summary>
    public const ushort VerFlgWeak = 0x2;

    /// <summary>One version requirement (<c>Elf64_Vernaux</c>) and where its flags live in the file.</summary>
    public sealed record VersionNeed(string Library, string Version, ushort Flags, long FlagsOffset)
    {
        public bool IsWeak => (Flags & VerFlgWeak) != 0;
    }

    /// <summary>Every version requirement of the object, in file order.</summary>
    public static IReadOnlyList<VersionNeed> ReadVersionNeeds(ReadOnlySpan<byte> elf)
    {
        var result = new List<VersionNeed>();
        foreach (var (offset, size, count, strtab) in Sections(elf, ShtGnuVerneed))
        {
            long vn = offset;
            for (int i = 0; i < count; i++)
            {
                ushort cnt = U16(elf, vn + 2);
                string file = CString(elf, strtab + U32(elf, vn + 4));
                long aux = vn + U32(elf, vn + 8);
                for (int j = 0; j < cnt; j++)
                {
                    ushort flags = U16(elf, aux + 4);
                    string name = CString(elf, strtab + U32(elf, aux + 8));
                    result.Add(new VersionNeed(file, name, flags, aux + 4));
                    uint nextAux = U32(elf, aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = U32(elf, vn + 12);
                if (next == 0) break;
                vn += next;
                if (vn >= offset + size) throw new InvalidDataException("ELF verneed chain runs past its section.");
            }
        }
        return result;
    }

    /// <summary>Every version the object defines (<c>Elf64_Verdef</c> names), e.g. GLIBCXX_3.4.30 for libstdc++.</summary>
    public static IReadOnlyList<string> ReadVersionDefinitions(ReadOnlySpan<byte> elf)
    {
        var result = new List<string>();
        foreach (var (offset, _, count, strtab) in Sections(elf, ShtGnuVerdef))
        {
            long vd = offset;
            for (int i = 0; i < count; i++)
            {
                ushort cnt = U16(elf, vd + 6);
                if (cnt > 0)
                {
                    long aux = vd + U32(elf, vd + 12);
                    result.Add(CString(elf, strtab + U32(elf, aux)));
                }
                uint next = U32(elf, vd + 16);
                if (next == 0) break;
                vd += next;
            }
        }
        return result;
    }

    /// <summary>
    /// Returns a copy of <paramref name="elf"/> where the requirement on <paramref name="version"/> is weak.
    /// Exactly one 16-bit field changes per matching entry; everything else is byte-identical.
    /// </summary>
    /// <returns>The patched copy and the number of entries changed (0 if already weak, so the call is idempotent).</returns>
    public static (byte[] Patched, int Changed) MakeRequirementWeak(ReadOnlySpan<byte> elf, string version)
    {
        var copy = elf.ToArray();
        int changed = 0;
        bool found = false;
        foreach (var need in ReadVersionNeeds(elf))
        {
            if (need.Version != version) continue;
            found = true;
            if (need.IsWeak) continue;
            BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan((int)need.FlagsOffset, 2), (ushort)(need.Flags | VerFlgWeak));
            changed++;
        }
        if (!found) throw new InvalidDataException($"The ELF object has no requirement on version {version}.");
        return (copy, changed);
    }

    // Yields (file offset, size, entry count from sh_info, file offset of the linked string table).
    static IEnumerable<(long Offset, long Size, int Count, long StrTab)> Sections(ReadOnlySpan<byte> elf, uint type)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("Not an ELF file.");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("Only 64-bit little-endian ELF files are supported.");
        long shoff = (long)U64(elf, 0x28);
        int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
        if (shoff == 0 || shnum == 0) throw new InvalidDataException("The ELF file has no section headers.");
        var found = new List<(long, long, int, long)>();
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (U32(elf, sh + 4) != type) continue;
            long offset = (long)U64(elf, sh + 0x18), size = (long)U64(elf, sh + 0x20);
            uint link = U32(elf, sh + 0x28), info = U32(elf, sh + 0x2C);
            long strtab = (long)U64(elf, shoff + (long)link * shentsize + 0x18);
            found.Add((offset, size, (int)info, strtab));
        }
        return found;
    }

    static ushort U16(ReadOnlySpan<byte> b, long at) => BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(Checked(b, at, 2), 2));
    static uint U32(ReadOnlySpan<byte> b, long at) => BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(Checked(b, at, 4), 4));
    static ulong U64(ReadOnlySpan<byte> b, long at) => BinaryPrimitives.ReadUInt64LittleEndian(b.Slice(Checked(b, at, 8), 8));

    static int Checked(ReadOnlySpan<byte> b, long at, int n)
    {
        if (at < 0 || at + n > b.Length) throw new InvalidDataException("Truncated or corrupt ELF file.");
        return (int)at;
    }

    static string CString(ReadOnlySpan<byte> b, long at)
    {
        var rest = b[Checked(b, at, 1)..];
        int end = rest.IndexOf((byte)0);
        if (end < 0) throw new InvalidDataException("Unterminated string in ELF string table.");
        return Encoding.ASCII.GetString(rest[..end]);
    }
}
