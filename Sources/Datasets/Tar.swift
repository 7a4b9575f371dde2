import MixCore

/// A minimal reader of ustar/GNU tar archives held in memory: regular files only.
enum Tar {
    struct Member {
        var name: String
        var range: Range<Int>
    }

    static func members(_ tar: [UInt8], name archive: String) throws -> [Member] {
        var out: [Member] = []
        var at = 0
        var longName: String?
        while at + 512 <= tar.count {
            let block = tar[at..<(at + 512)]
            if block.allSatisfy({ $0 == 0 }) { break }
            let size = try octal(tar[(at + 124)..<(at + 136)], archive: archive, at: at)
            let type = tar[at + 156]
            var name = cString(tar[at..<(at + 100)])
            let prefix = cString(tar[(at + 345)..<(at + 500)])
            if Array(tar[(at + 257)..<(at + 262)]) == Array("ustar".utf8), !prefix.isEmpty { name = prefix + "/" + name }
            if let long = longName { name = long; longName = nil }
            let start = at + 512
            guard start + size <= tar.count else {
                throw MixError.file(archive, "tar member \(name) is truncated (needs \(size) bytes)")
            }
            switch type {
            case UInt8(ascii: "L"): longName = cString(tar[start..<(start + size)])
            case UInt8(ascii: "0"), 0: out.append(Member(name: name, range: start..<(start + size)))
            default: break
            }
            at = start + (size + 511) / 512 * 512
        }
        return out
    }

    static func cString(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func octal(_ field: ArraySlice<UInt8>, archive: String, at: Int) throws -> Int {
        var v = 0
        for b in field where b != 0 && b != UInt8(ascii: " ") {
            guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(b) else {
                throw MixError.file(archive, "not a tar archive (bad header at byte \(at))")
            }
            v = v * 8 + Int(b - UInt8(ascii: "0"))
        }
        return v
    }
}
