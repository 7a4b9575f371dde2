import Datasets
import MixCore
import ZlibKit

/// The CIFAR-10 `.tar.gz` reader (`Dataset.load` → gunzip, tar, records, class
/// names). Seeds are small archives in the official layout built at start-up
/// from the repository's CIFAR-10 subset (a few records of each batch file and
/// `batches.meta.txt`; one plain ustar archive, one with a GNU long name, a
/// ustar prefix and an extra member). Two targets:
///
/// - `tar`: the input is the tar; mutated by member (dropped, duplicated,
///   renamed, retyped, contents cut or relabelled, class names garbled) and by
///   header field, then gzipped correctly, so mutants reach the tar and record parsers;
/// - `gzip`: the input is the `.tar.gz` itself: gzip header flags, members,
///   trailers, truncation.
final class ArchiveTarget: FuzzTarget {
    enum Layer { case tar, gzip }

    struct Member {
        var name: String
        var type: UInt8
        var data: [UInt8]
        var prefix: String = ""
    }

    let layer: Layer
    let memberSets: [[Member]]
    let seeds: [[UInt8]]
    let path: String
    /// A gzip member of 1 MiB of zeros (1 KiB compressed), appended by some gzip mutants.
    let zeroMember = ArchiveTarget.gzip(Array(repeating: 0, count: 1 << 20), level: 9)

    static let sizeFields = ["77777777777", "00000000000", "7777777777777", "00000001000", " 1", "-1", "0000000001\u{0}", "99999999999",
                             "\u{80}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{ff}", "00000006002", "00000014001"]
    static let names = ["data_batch_1.bin", "data_batch_0.bin", "data_batch_99999999999999999999.bin", "data_batch_-1.bin",
                        "test_batch.bin", "batches.meta.txt", "../test_batch.bin", "", "/", "cifar-10-batches-bin/",
                        String(repeating: "d/", count: 60) + "test_batch.bin", "data_batch_.bin", "data_batch_1.bin/x"]
    static let types: [UInt8] = [0x30, 0, 0x35, 0x4c, 0x4b, 0x78, 0x67, 0x31, 0x32, 0x37, 0xff]

    init(context: FuzzContext, layer: Layer) throws {
        self.layer = layer
        let data = context.root + "/data/cifar10-mini"
        func records(_ file: String, _ n: Int) throws -> [UInt8] { Array(try FileIO.read(data + "/" + file).prefix(n * CIFAR10.recordBytes)) }
        let meta = try FileIO.read(data + "/batches.meta.txt")
        let b1 = try records("data_batch_1.bin", 3), b2 = try records("data_batch_2.bin", 2), test = try records("test_batch.bin", 2)
        let dir = "cifar-10-batches-bin/"
        let plain = [Member(name: dir, type: 0x35, data: []), Member(name: dir + "batches.meta.txt", type: 0x30, data: meta),
                     Member(name: dir + "data_batch_1.bin", type: 0x30, data: b1), Member(name: dir + "data_batch_2.bin", type: 0x30, data: b2),
                     Member(name: dir + "test_batch.bin", type: 0x30, data: test)]
        let long = String(repeating: "x", count: 120) + "/data_batch_1.bin"
        let varied = [Member(name: "././@LongLink", type: 0x4c, data: Array(long.utf8) + [0]), Member(name: "ignored", type: 0x30, data: b1),
                      Member(name: "test_batch.bin", type: 0x30, data: test, prefix: "cifar-10-batches-bin"),
                      Member(name: dir + "readme.html", type: 0x30, data: Array("<html></html>\n".utf8)),
                      Member(name: dir + "data_batch_2.bin", type: 0, data: b2)]
        memberSets = [plain, varied]
        let tars = memberSets.map(ArchiveTarget.tar)
        switch layer {
        case .tar:
            seeds = tars
        case .gzip:
            let split = tars[0].count / 2
            seeds = [ArchiveTarget.gzip(tars[0]), ArchiveTarget.gzip(tars[1], name: "cifar-10-binary.tar"),
                     ArchiveTarget.gzip(Array(tars[0][..<split])) + ArchiveTarget.gzip(Array(tars[0][split...]))]
        }
        path = context.scratch + "/cifar-10-binary.tar.gz"
    }

    // MARK: Writers

    /// A ustar archive of `members`.
    static func tar(_ members: [Member]) -> [UInt8] {
        var out: [UInt8] = []
        for m in members {
            var h = [UInt8](repeating: 0, count: 512)
            func put(_ s: String, at: Int, width: Int) {
                for (i, c) in s.utf8.prefix(width).enumerated() { h[at + i] = c }
            }
            func octal(_ v: Int, width: Int) -> String {
                let s = String(v, radix: 8)
                return String(repeating: "0", count: max(0, width - 1 - s.count)) + s
            }
            put(m.name, at: 0, width: 100)
            put("0000644", at: 100, width: 8)
            put("0001750", at: 108, width: 8)
            put("0001750", at: 116, width: 8)
            put(octal(m.data.count, width: 12), at: 124, width: 12)
            put("14351211240", at: 136, width: 12)
            h[156] = m.type
            put("ustar", at: 257, width: 6)
            put("00", at: 263, width: 2)
            put(m.prefix, at: 345, width: 155)
            fixChecksum(&h, at: 0)
            out += h + m.data + [UInt8](repeating: 0, count: (512 - m.data.count % 512) % 512)
        }
        return out + [UInt8](repeating: 0, count: 1024)
    }

    /// Recomputes the checksum of the tar header at `at` (the reader ignores it; real tools do not).
    static func fixChecksum(_ b: inout [UInt8], at: Int) {
        guard at + 512 <= b.count else { return }
        for i in 148..<156 { b[at + i] = 0x20 }
        let sum = b[at..<(at + 512)].reduce(0) { $0 + Int($1) }
        let s = String(sum, radix: 8)
        let text = Array((String(repeating: "0", count: max(0, 6 - s.count)) + s).utf8.prefix(6)) + [0, 0x20]
        b.replaceSubrange((at + 148)..<(at + 156), with: text)
    }

    /// One gzip member holding `data` (RFC 1952), optionally with a file name.
    static func gzip(_ data: [UInt8], name: String? = nil, level: Int = 6) -> [UInt8] {
        var out: [UInt8] = [0x1f, 0x8b, 8, name == nil ? 0 : 8, 0, 0, 0, 0, 0, 3]
        if let name { out += Array(name.utf8) + [0] }
        let z = data.withUnsafeBytes { Zlib.compress($0, level: level) }
        out += z[2..<(z.count - 4)]
        var trailer = [UInt8](repeating: 0, count: 8)
        ByteMutator.write(&trailer, UInt64(Zlib.crc32(data)), at: 0, width: 4)
        ByteMutator.write(&trailer, UInt64(UInt32(truncatingIfNeeded: data.count)), at: 4, width: 4)
        return out + trailer
    }

    // MARK: Mutation

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        switch layer {
        case .tar: return mutateTar(rng: &rng)
        case .gzip: return mutateGzip(rng: &rng)
        }
    }

    func mutateTar(rng: inout FuzzRNG) -> [UInt8] {
        var members = rng.pick(memberSets)
        for _ in 0..<rng.smallCount(max: 3) {
            let i = rng.below(members.count)
            switch rng.below(10) {
            case 0: members.remove(at: i)
            case 1: members.insert(members[i], at: rng.below(members.count + 1))
            case 2: members.swapAt(i, rng.below(members.count))
            case 3: members[i].name = rng.chance(0.5) ? rng.pick(ArchiveTarget.names) : "cifar-10-batches-bin/" + rng.pick(ArchiveTarget.names)
            case 4: members[i].type = rng.pick(ArchiveTarget.types)
            case 5: // a record's label byte
                let n = members[i].data.count / CIFAR10.recordBytes
                guard n > 0 else { continue }
                members[i].data[CIFAR10.recordBytes * rng.below(n)] = rng.pick([0, 9, 10, 11, 127, 255])
            case 6: // contents cut or grown off the record size
                if rng.chance(0.5) && !members[i].data.isEmpty {
                    members[i].data.removeSubrange(rng.below(members[i].data.count)...)
                } else {
                    members[i].data += [UInt8](repeating: 1, count: rng.pick([1, 3072, 3073, 3074, 70_000]))
                }
            case 7: // class names: garbage, too many, none, control characters
                let options: [[UInt8]] = [[], [0xff, 0xfe, 0x00, 0x41], Array(repeating: 0x0a, count: 40),
                                          Array((0..<300).map { "c\($0)\n" }.joined().utf8), Array("a\u{1}b\nc\n".utf8),
                                          Array("only-one\n".utf8), Array("\u{e9}t\u{e9}\r\nhiver\r\n".utf8)]
                members[i].data = rng.pick(options)
            case 8: members[i].prefix = rng.pick(["", "cifar-10-batches-bin", "..", String(repeating: "p", count: 155)])
            default: ByteMutator.mutate(&members[i].data, rng: &rng, donors: [], maxStack: 2)
            }
            if members.isEmpty { break }
        }
        var bytes = ArchiveTarget.tar(members)
        if rng.chance(0.3) { ArchiveTarget.mutateSizeField(&bytes, rng: &rng) }
        if rng.chance(0.25) { ByteMutator.mutate(&bytes, rng: &rng, donors: seeds, maxStack: 3) }
        return bytes
    }

    /// Sets one member header's size field to an interesting value (`sizeFields`) and fixes the
    /// header checksum, so the reader gets past the checksum to the size.
    static func mutateSizeField(_ bytes: inout [UInt8], rng: inout FuzzRNG) {
        let headers = stride(from: 0, to: max(bytes.count - 1024, 0), by: 512).filter { looksLikeHeader(bytes, at: $0) }
        guard let at = headers.randomElement(using: &rng) else { return }
        let field = Array(rng.pick(sizeFields).utf8.prefix(12))
        bytes.replaceSubrange((at + 124)..<(at + 124 + field.count), with: field)
        fixChecksum(&bytes, at: at)
    }

    static func looksLikeHeader(_ b: [UInt8], at: Int) -> Bool {
        at + 512 <= b.count && Array(b[(at + 257)..<(at + 262)]) == Array("ustar".utf8)
    }

    func mutateGzip(rng: inout FuzzRNG) -> [UInt8] {
        var bytes = rng.pick(seeds)
        switch rng.below(6) {
        case 0: // header flags (FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT, reserved), method, or an extra field's length
            let at = rng.pick([2, 3, 3, 3, 8, 9])
            bytes[at] = rng.chance(0.5) ? rng.byte() : rng.pick([0, 1, 2, 4, 8, 16, 0x1e, 0xe0, 0xff])
        case 1: // the trailer (CRC-32, size) of the last member
            let at = bytes.count - rng.pick([4, 8])
            ByteMutator.write(&bytes, rng.pick(ByteMutator.interesting), at: at, width: 4)
        case 2: // members appended: a copy, garbage, zeros, an empty member
            bytes += rng.pick([Array(bytes.prefix(rng.below(bytes.count + 1))), [0x1f, 0x8b], [UInt8](repeating: 0, count: 64),
                               ArchiveTarget.gzip([]), zeroMember])
        default:
            ByteMutator.mutate(&bytes, rng: &rng, donors: seeds)
        }
        return bytes
    }

    // MARK: Run

    func run(_ input: [UInt8]) -> FuzzOutcome {
        Scratch.write(path, layer == .tar ? ArchiveTarget.gzip(input, level: 1) : input)
        var steps = Steps(naming: [path])
        steps.run {
            let dataset = try Dataset.load(path)
            guard dataset.train.labels.count * CIFAR10.recordBytes - dataset.train.labels.count == dataset.train.images.count else {
                throw FuzzInvariant("\(dataset.train.labels.count) labels for \(dataset.train.images.count) image bytes")
            }
        }
        return steps.outcome
    }
}
