import MixCore
import ShardFormat
import XCTest

/// Small deterministic blocks and temp files for the format tests.
enum ShardFixtures {
    /// `n` samples of C×H×W with pseudo-random pixels, soft labels summing to 1 and provenance.
    static func block(n: Int, channels: Int = 3, height: Int = 4, width: Int = 5, classes: Int = 3, seed: UInt64 = 1) -> SampleBlock {
        var rng = CounterRNG(seed: seed, stream: .test)
        let shape = SampleShape(channels: channels, height: height, width: width, classCount: classes)
        var b = SampleBlock(shape: shape)
        for i in 0..<n {
            for _ in 0..<shape.imageBytes { b.images.append(UInt8(truncatingIfNeeded: rng.nextUInt32())) }
            let lambda = Float(rng.uniform())
            var row = [Float](repeating: 0, count: classes)
            row[i % classes] += lambda
            row[(i + 1) % classes] += 1 - lambda
            b.labels += row
            b.provenance.append(Provenance(primary: UInt32(i), partner: UInt32(i + 1), lambda: lambda))
        }
        return b
    }

    /// The golden block: 3 samples of 2×2×3 bytes, 3 classes, hand-chosen values.
    static func goldenBlock() -> SampleBlock {
        let shape = SampleShape(channels: 2, height: 2, width: 3, classCount: 3)
        return SampleBlock(
            shape: shape,
            images: Array(0..<12).map { UInt8($0 * 20) } + Array(repeating: 7, count: 12) + [255, 0, 255, 0, 1, 2, 3, 4, 250, 251, 9, 9],
            labels: [1, 0, 0, 0, 0.25, 0.75, 0, 0, 1],
            provenance: [Provenance(primary: 4, partner: 4, lambda: 1),
                         Provenance(primary: 0, partner: 9, lambda: 0.25),
                         Provenance(primary: 2, partner: 2, lambda: 1)])
    }

    /// Writes `bytes` to `path`, opens it and reads every chunk; asserts that this fails with
    /// one line naming the file, and returns that line.
    static func readFailure(_ bytes: [UInt8], at path: String, file: StaticString, line: UInt) throws -> String {
        try FileIO.writeAtomically(path, bytes)
        do {
            _ = try ShardReader(path: path).readAll()
            XCTFail("bad shard accepted", file: file, line: line)
            return ""
        } catch let e as MixError {
            XCTAssertTrue(e.message.hasPrefix(path + ": "), "error does not name the file: \(e.message)", file: file, line: line)
            XCTAssertFalse(e.message.contains("\n"), file: file, line: line)
            return e.message
        }
    }

    static func temporaryDirectory(_ name: String = #function) throws -> String {
        let dir = NSTemporaryDirectory() + "mixshards-tests-\(name.filter { $0.isLetter || $0.isNumber })-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileIO.makeDirectories(dir)
        return dir
    }

    static var goldenDirectory: String {
        Bundle.module.path(forResource: "Golden", ofType: nil)!
    }
}
