import MixCore
import XCTest

/// The SHA-extension path must agree with the portable Swift rounds on every length and split.
final class SHA256HardwareTests: XCTestCase {
    func testHardwareAndPortableAgree() throws {
        try XCTSkipUnless(SHA256.hardwareAvailable, "CPU has no SHA extensions")
        var rng = CounterRNG(seed: 7, stream: .test)
        for length in [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 1000, 4096, 100_003] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.nextUInt32()) }
            var hw = SHA256()
            var sw = SHA256(portable: true)
            let cut = length / 3
            bytes.withUnsafeBytes { b in
                hw.update(UnsafeRawBufferPointer(rebasing: b[0..<cut]))
                hw.update(UnsafeRawBufferPointer(rebasing: b[cut...]))
                sw.update(b)
            }
            XCTAssertEqual(SHA256.hex(hw.finalize()), SHA256.hex(sw.finalize()), "length \(length)")
        }
    }

    func testHardwareKnownAnswer() {
        var h = SHA256()
        h.update(Array("abc".utf8))
        XCTAssertEqual(SHA256.hex(h.finalize()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
