#if canImport(Glibc)
import Glibc
#endif
import Datasets
import MixCore

/// CIFAR-100's binary version as `mixprep` reads `dataset.path` (`Dataset.load`):
/// the input is a tar of the official layout, read both ways a user can give it —
/// gzipped as `cifar-100-binary.tar.gz`, and unpacked into a folder (the
/// members' base names, the last one of a name winning as in the archive
/// reader; a directory or FIFO member becomes a directory or FIFO, so the folder
/// reader meets what should be a file and is not). Seeds are built in code (a
/// few records of `train.bin` and `test.bin` with fine and coarse labels, the
/// 100 fine and 20 coarse class names): one archive in the official layout, one
/// with a GNU long name, a ustar prefix, CRLF class names and an extra member.
/// Mutations are by member (dropped, duplicated, renamed, retyped, fine or
/// coarse labels changed, contents cut or grown off the 3074-byte record, class
/// names replaced) and by tar header field, as the `tar` target does for CIFAR-10.
/// When both forms are read as CIFAR-100 from the same members they must give
/// the same dataset.
final class CIFAR100Target: FuzzTarget {
    typealias Member = ArchiveTarget.Member

    static let fineNames = [
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy", "bridge",
        "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud",
        "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl",
        "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
        "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
        "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
        "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel",
        "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor", "train", "trout",
        "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
    ]
    static let coarseNames = [
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables", "household_electrical_devices",
        "household_furniture", "insects", "large_carnivores", "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
        "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals",
        "trees", "vehicles_1", "vehicles_2",
    ]
    static let names = ["train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt", "train", "test", "meta",
                        "data_batch_1.bin", "data_batch_x.bin", "test_batch.bin", "batches.meta.txt", "../train.bin", "", "/", ".",
                        "..", "cifar-100-binary/", "train.bin/x", String(repeating: "t/", count: 60) + "test.bin", "TRAIN.BIN"]
    static let types: [UInt8] = [0x30, 0, 0x35, 0x36, 0x4c, 0x32, 0x31, 0x78, 0x67, 0xff]
    /// Record counts off by a byte or two, a CIFAR-10 record (3073), empty, and large ones.
    static let sizes = [0, 1, 2, 3073, 3075, 6147, 6148, 6149, 3074 * 3 + 1]

    let memberSets: [[Member]]
    let seeds: [[UInt8]]
    let archivePath: String
    let folder: String

    /// Records with the given fine labels (coarse label = fine / 5) and patterned pixels.
    static func records(_ fine: [UInt8], salt: Int) -> [UInt8] {
        var out: [UInt8] = []
        for (r, label) in fine.enumerated() {
            out += [label / 5, label]
            out += (0..<(CIFAR100.recordBytes - 2)).map { UInt8(truncatingIfNeeded: $0 &* (r + salt) &+ r &* 31 &+ $0 >> 5) }
        }
        return out
    }

    static func lines(_ names: [String], ending: String = "\n") -> [UInt8] {
        Array(names.map { $0 + ending }.joined().utf8)
    }

    init(context: FuzzContext) throws {
        let train = CIFAR100Target.records([19, 29, 0, 99], salt: 1), test = CIFAR100Target.records([49, 33], salt: 7)
        let fine = CIFAR100Target.lines(CIFAR100Target.fineNames) + [0x0a]   // and a blank line, which the reader skips
        let coarse = CIFAR100Target.lines(CIFAR100Target.coarseNames)
        let dir = "cifar-100-binary/"
        let official = [Member(name: dir, type: 0x35, data: []), Member(name: dir + "coarse_label_names.txt", type: 0x30, data: coarse),
                        Member(name: dir + "fine_label_names.txt", type: 0x30, data: fine),
                        Member(name: dir + "test.bin", type: 0x30, data: test), Member(name: dir + "train.bin", type: 0x30, data: train)]
        let long = String(repeating: "y", count: 120) + "/train.bin"
        let varied = [Member(name: "././@LongLink", type: 0x4c, data: Array(long.utf8) + [0]), Member(name: "ignored", type: 0x30, data: train),
                      Member(name: "test.bin", type: 0x30, data: test, prefix: "cifar-100-binary"),
                      Member(name: dir + "fine_label_names.txt", type: 0, data: CIFAR100Target.lines(CIFAR100Target.fineNames, ending: "\r\n")),
                      Member(name: dir + "readme.html", type: 0x30, data: Array("<html></html>\n".utf8))]
        memberSets = [official, varied]
        seeds = memberSets.map(ArchiveTarget.tar)
        archivePath = context.scratch + "/cifar-100-binary.tar.gz"
        folder = context.scratch + "/cifar-100-binary"
    }

    // MARK: Mutation

    func generate(rng: inout FuzzRNG) -> [UInt8] {
        var members = rng.pick(memberSets)
        for _ in 0..<rng.smallCount(max: 3) {
            let i = rng.below(members.count)
            let op = rng.below(12)
            switch op {
            case 0: members.remove(at: i)
            case 1: members.insert(members[i], at: rng.below(members.count + 1))
            case 2: members.swapAt(i, rng.below(members.count))
            case 3: members[i].name = rng.chance(0.5) ? rng.pick(CIFAR100Target.names) : "cifar-100-binary/" + rng.pick(CIFAR100Target.names)
            case 4: members[i].type = rng.pick(CIFAR100Target.types)
            case 5, 6: // a record's fine (case 5) or coarse (case 6) label byte
                let n = members[i].data.count / CIFAR100.recordBytes
                guard n > 0 else { continue }
                let at = CIFAR100.recordBytes * rng.below(n) + (op == 5 ? 1 : 0)
                members[i].data[at] = rng.pick([0, 19, 99, 100, 101, 127, 128, 255])
            case 7: // contents cut or grown off the record size
                if rng.chance(0.5) && !members[i].data.isEmpty {
                    members[i].data.removeSubrange(rng.below(members[i].data.count)...)
                } else {
                    let size = rng.pick(CIFAR100Target.sizes)
                    members[i].data = (0..<size).map { _ in rng.byte() }
                }
            case 8: // the class names
                let names = CIFAR100Target.fineNames
                let options: [[UInt8]] = [
                    [], CIFAR100Target.lines(Array(names.prefix(99))), CIFAR100Target.lines(names + ["extra"]),
                    CIFAR100Target.lines((0..<256).map { "c\($0)" }), CIFAR100Target.lines((0..<257).map { "c\($0)" }),
                    CIFAR100Target.lines(CIFAR100Target.coarseNames), CIFAR100Target.lines(names, ending: "\r"),
                    CIFAR100Target.lines(names, ending: "\u{2028}"), [0xef, 0xbb, 0xbf] + CIFAR100Target.lines(names),
                    Array("apple\u{1}\n".utf8), [0xff, 0xfe, 0x00, 0x41], Array(repeating: 0x0a, count: 100),
                    CIFAR100Target.lines(names.map { " \t" + $0 + " " }),
                ]
                members[i].data = rng.pick(options)
            case 9: members[i].prefix = rng.pick(["", "cifar-100-binary", "..", String(repeating: "p", count: 155)])
            case 10: // records moved between members (train into test and back)
                let j = rng.below(members.count)
                members[i].data += members[j].data.prefix(CIFAR100.recordBytes * rng.int(in: 0...2))
            default: ByteMutator.mutate(&members[i].data, rng: &rng, donors: [], maxStack: 2)
            }
            if members.isEmpty { break }
        }
        var bytes = ArchiveTarget.tar(members)
        if rng.chance(0.3) { ArchiveTarget.mutateSizeField(&bytes, rng: &rng) }
        if rng.chance(0.2) { ByteMutator.mutate(&bytes, rng: &rng, donors: seeds, maxStack: 3) }
        return bytes
    }

    // MARK: The folder form

    /// What the folder holds for a tar: each base name's last member (regular file,
    /// directory or FIFO). The same walk as the archive reader's (ustar prefix, GNU
    /// long name, regular members `0` and NUL), but stopping where it would refuse.
    static func folderEntries(_ tar: [UInt8]) -> [(name: String, type: UInt8, data: ArraySlice<UInt8>)] {
        var entries: [(name: String, type: UInt8, data: ArraySlice<UInt8>)] = []
        var at = 0
        var longName: String?
        func cString(_ b: ArraySlice<UInt8>) -> String { String(decoding: b.prefix { $0 != 0 }, as: UTF8.self) }
        while at + 512 <= tar.count && entries.count < 64 {
            if tar[at..<(at + 512)].allSatisfy({ $0 == 0 }) { break }
            var size = 0
            for b in tar[(at + 124)..<(at + 136)] where b != 0 && b != 0x20 {
                guard (0x30...0x37).contains(b) else { return entries }
                size = size * 8 + Int(b - 0x30)
            }
            let type = tar[at + 156]
            var name = cString(tar[at..<(at + 100)])
            let prefix = cString(tar[(at + 345)..<(at + 500)])
            if Array(tar[(at + 257)..<(at + 262)]) == Array("ustar".utf8), !prefix.isEmpty { name = prefix + "/" + name }
            if let long = longName { name = long; longName = nil }
            let start = at + 512
            guard size <= tar.count - start else { break }
            if type == 0x4c {
                longName = cString(tar[start..<(start + size)])
            } else if [0x30, 0, 0x35, 0x36].contains(type) {
                // The reader's base name (split by Character: a '/' followed by a combining mark stays in it).
                let base = name.split(separator: "/").last.map(String.init) ?? name
                if !base.isEmpty && base != "." && base != ".." && !base.utf8.contains(0x2f) && base.utf8.count <= 255 {
                    entries.removeAll { $0.name == base }
                    entries.append((base, type, tar[start..<(start + size)]))
                }
            }
            at = start + (size + 511) / 512 * 512
        }
        return entries
    }

    /// Rebuilds the folder form of `tar`; true when it holds regular files only.
    func writeFolder(_ tar: [UInt8]) -> Bool {
        Scratch.removeTree(folder)
        mkdir(folder, 0o755)
        var regularOnly = true
        for e in CIFAR100Target.folderEntries(tar) {
            let path = folder + "/" + e.name
            switch e.type {
            case 0x35: mkdir(path, 0o755); regularOnly = false
            case 0x36: mkfifo(path, 0o644); regularOnly = false
            default: Scratch.write(path, Array(e.data))
            }
        }
        return regularOnly
    }

    // MARK: Run

    func run(_ input: [UInt8]) -> FuzzOutcome {
        Scratch.write(archivePath, ArchiveTarget.gzip(input, level: 1))
        let regularOnly = writeFolder(input)
        var fromArchive: Dataset?, fromFolder: Dataset?
        var archive = Steps(naming: [archivePath])
        archive.run {
            let d = try Dataset.load(archivePath)
            try CIFAR100Target.check(d)
            fromArchive = d
        }
        var unpacked = Steps(naming: [folder])
        unpacked.run {
            let d = try Dataset.load(folder)
            try CIFAR100Target.check(d)
            fromFolder = d
        }
        var outcome = archive.outcome.combined(with: unpacked.outcome)
        if regularOnly, let a = fromArchive, let f = fromFolder, a.name == "cifar100", f.name == "cifar100",
           a.classNames != f.classNames || a.fingerprint != f.fingerprint || a.train != f.train || a.test != f.test {
            outcome = .unnamedError("FuzzInvariant: the archive and its folder give different datasets "
                                    + "(\(a.train.labels.count)/\(a.test.labels.count) vs \(f.train.labels.count)/\(f.test.labels.count) images)")
        }
        return outcome
    }

    /// An accepted dataset is whole: an image per label, labels within the class names.
    static func check(_ d: Dataset) throws {
        for split in [d.train, d.test] {
            let pixels = split.channels * split.height * split.width
            guard split.images.count == split.labels.count * pixels else {
                throw FuzzInvariant("\(split.labels.count) labels for \(split.images.count) image bytes")
            }
            if let bad = split.labels.first(where: { !(0..<Int32(d.classCount)).contains($0) }) {
                throw FuzzInvariant("label \(bad) outside 0..<\(d.classCount)")
            }
        }
    }
}
