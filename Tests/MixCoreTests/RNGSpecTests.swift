import XCTest
import MixCore

/// DESIGN.md's test vectors of the generator and its draws (*Random numbers*), as printed
/// there: the same literals are computed independently from DESIGN's definitions by
/// `python/tests/test_rng.py` (RNGSpecVectorTests). A change to any draw is a change to
/// every shard's bytes, so these fail on it.
final class RNGSpecTests: XCTestCase {
    private func words(_ rng: inout CounterRNG, _ n: Int) -> [UInt32] {
        (0 ..< n).map { _ in rng.nextUInt32() }
    }

    private func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }

    func testPhiloxVectors() {
        let cases: [((UInt32, UInt32, UInt32, UInt32), (UInt32, UInt32), [UInt32])] = [
            ((0, 0, 0, 0), (0, 0), [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8]),
            ((0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), (0xA409_3822, 0x299F_31D0),
             [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1]),
            // Block 0 of the stream (seed 0x0123456789ABCDEF, sample, epoch 7, position 12345).
            ((0, 12345, 7, 2), (0x89AB_CDEF, 0x0123_4567), [0xEA4C_F32B, 0xBE2E_BE2D, 0x2B1B_E790, 0x540B_1CF8]),
        ]
        for (counter, key, want) in cases {
            let b = philox4x32(counter, key: key)
            XCTAssertEqual([b.0, b.1, b.2, b.3], want, "counter \(counter), key \(key)")
        }
    }

    func testFirstWordsOfStreams() {
        var a = CounterRNG(seed: 0, stream: .order, epoch: 0, position: 0)
        XCTAssertEqual(words(&a, 6), [0x2DCE_73E5, 0x1348_E23F, 0xFCF8_E0EC, 0xA287_AADB, 0xE953_5BE3, 0x510C_4549])
        var b = CounterRNG(seed: 0x0123_4567_89AB_CDEF, stream: .sample, epoch: 7, position: 12345)
        XCTAssertEqual(words(&b, 6), [0xEA4C_F32B, 0xBE2E_BE2D, 0x2B1B_E790, 0x540B_1CF8, 0x3111_CB3D, 0x714E_F6CB])
        var c = CounterRNG(seed: .max, stream: .augment, epoch: 1, position: 3)
        XCTAssertEqual(words(&c, 6), [0x65A6_F9EA, 0x56AE_A2F2, 0xB23A_56F9, 0x339C_0D76, 0x2439_FAA4, 0x773F_2A57])
    }

    func testUniformDraws() {
        var r = CounterRNG(seed: 5, stream: .sample, epoch: 0, position: 0)
        XCTAssertEqual((0 ..< 3).map { _ in r.next() }, [0x3C75_5328_B4AF_4BBB, 0xFC55_5062_8E05_32AA, 0x6A96_F002_2866_81FB])
        r = CounterRNG(seed: 5, stream: .sample, epoch: 0, position: 0)
        XCTAssertEqual(bits((0 ..< 3).map { _ in r.uniform() }),
                       bits([0x1.e3aa9945a57a4p-3, 0x1.f8aaa0c51c0a6p-1, 0x1.aa5bc008a19a0p-2]))
        r = CounterRNG(seed: 5, stream: .sample, epoch: 0, position: 0)
        XCTAssertEqual(r.uniformPositive().bitPattern, (0x1.e3aa9945a57a8p-3 as Double).bitPattern)
    }

    func testUniformIntDraws() {
        var r = CounterRNG(seed: 1, stream: .shuffle, epoch: 0, position: 0)
        XCTAssertEqual((0 ..< 8).map { _ in r.uniformInt(below: 10) }, [3, 4, 1, 0, 5, 8, 7, 4])
        // n = 2^62 + 1: the threshold (2^64 − n) mod n is 2^62 − 3, so about a quarter of the
        // 64-bit words are redrawn; the stream's second word is (0x6EFA3A4BF1120AAF · n mod 2^64
        // = 0x2EFA…0AAF < 0x3FFF…FFFD), so the second draw takes the third word.
        let n = (1 << 62) + 1
        r = CounterRNG(seed: 1, stream: .shuffle, epoch: 0, position: 0)
        XCTAssertEqual((0 ..< 4).map { _ in r.uniformInt(below: n) },
                       [1_437_978_128_611_062_702, 909_439_505_302_237_641, 153_322_029_453_538_089, 2_698_271_947_996_038_615])
        XCTAssertEqual(r.next(), 0xE002_58B6_C41A_18CE, "five 64-bit words taken by four draws")
    }

    func testNormalGammaAndBetaDraws() {
        let seed: UInt64 = 0x0123_4567_89AB_CDEF
        var r = CounterRNG(seed: seed, stream: .sample, epoch: 0, position: 0)
        XCTAssertEqual(bits([r.normal(), r.normal()]), bits([-0x1.113be92a93e38p+0, 0x1.e4487feced07bp+0]))
        r = CounterRNG(seed: seed, stream: .sample, epoch: 0, position: 0)
        XCTAssertEqual(r.logGamma(shape: 0.2).bitPattern, (-0x1.22d7b92fc95abp+4 as Double).bitPattern)
        r = CounterRNG(seed: seed, stream: .sample, epoch: 0, position: 0)
        XCTAssertEqual(bits([r.gamma(shape: 0.2), r.gamma(shape: 3)]), bits([0x1.b61dc80dbfa9dp-27, 0x1.4ed764e846caap+2]))
        r = CounterRNG(seed: seed, stream: .sample, epoch: 0, position: 0)
        let betas = (0 ..< 4).map { _ in r.beta(0.2, 0.2) }
        XCTAssertEqual(bits(betas), bits([0x1.820c804fd1d87p-16, 0x1.26a1f4b2947aap-3, 0x1.fec7bdf491dd0p-1, 0x1.fbefba2006451p-1]))
        // As a pipeline stores λ: rounded to binary32.
        XCTAssertEqual(betas.map { Float($0).bitPattern }, [0x37C1_0640, 0x3E13_50FA, 0x3F7F_63DF, 0x3F7D_F7DD])
    }
}
