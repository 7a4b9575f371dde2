import MixCore
import XCTest

/// `ChannelStatistics`: exact sums, exact rounding (ties away from zero), thread count
/// irrelevant. The figures of real data are checked in PrepTests/ChannelStatsTests.
final class ChannelStatisticsTests: XCTestCase {
    /// `n` planar images of `channels` planes of `plane` pixels, image k holding `pixel(k, c, i)`.
    func store(count n: Int, channels: Int, height: Int, width: Int, _ pixel: (Int, Int, Int) -> UInt8) -> ImageStore {
        let plane = height * width
        var bytes: [UInt8] = []
        for k in 0..<n { for c in 0..<channels { for i in 0..<plane { bytes.append(pixel(k, c, i)) } } }
        return bytes.withUnsafeBytes {
            ImageStore(copying: $0, slots: nil, labels: [Int32](repeating: 0, count: n), channels: channels, height: height, width: width)
        }
    }

    func testSumsAndFiguresOfAKnownSplit() {
        // Channel 0: half 0, half 255 → mean 0.5, std 0.5. Channel 1: all 51 → mean 0.2, std 0.
        // Channel 2: 0, 1, 2, …, 255 repeated → mean 127.5/255 = 0.5, std √((256² − 1)/12)/255 = 0.28979…
        let s = ChannelStatistics(store(count: 4, channels: 3, height: 8, width: 16) { k, c, i in
            switch c {
            case 0: return k < 2 ? 0 : 255
            case 1: return 51
            default: return UInt8((k * 128 + i) % 256)
            }
        }, threads: 3)
        XCTAssertEqual(s.pixelsPerChannel, 512)
        XCTAssertEqual(s.sums(0).x, 256 * 255)
        XCTAssertEqual(s.sums(1).xx, 512 * 51 * 51)
        XCTAssertEqual(s.sums(2).x, 2 * 255 * 128)  // 0 + 1 + … + 255, twice
        XCTAssertEqual([0, 1, 2].map { s.roundedMean($0)! }, [0.5, 0.2, 0.5])
        XCTAssertEqual([0, 1, 2].map { s.roundedStd($0)! }, [0.5, 0, 0.2898])
        XCTAssertEqual(s.std(2)!, ((65536.0 - 1) / 12).squareRoot() / 255, accuracy: 1e-15)
        XCTAssertEqual(s.roundedStd(2, places: 8), 0.28980498)  // np.arange(256).std() / 255
    }

    /// A mean exactly halfway between two 4-decimal figures rounds away from zero, and the
    /// rounding is exact where a float estimate would not be: 51 ones among 4,000 bytes is a
    /// mean of exactly 0.00005 (= 51 / (255 · 4000)).
    func testTiesRoundAwayFromZero() {
        var histogram = [UInt64](repeating: 0, count: 256)
        histogram[0] = 4000 - 51
        histogram[1] = 51
        let s = ChannelStatistics(channels: 1, histogram: histogram)
        XCTAssertEqual(s.roundedMean(0), 0.0001)
        histogram[0] += 1
        histogram[1] -= 1  // just below the tie
        XCTAssertEqual(ChannelStatistics(channels: 1, histogram: histogram).roundedMean(0), 0)
        // A standard deviation at a tie: bytes 0 and 2·x in equal numbers have σ = x/255; no
        // integer x gives a tie at 4 decimals, so check instead that every rounding of random
        // splits is the nearest figure to the exact value (within 5e-5) and a multiple of 1e-4.
        var state: UInt64 = 12345
        for _ in 0..<200 {
            var h = [UInt64](repeating: 0, count: 256)
            for _ in 0..<40 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                h[Int(state >> 56)] += (state >> 20) & 0xFFFF
            }
            let t = ChannelStatistics(channels: 1, histogram: h)
            for (rounded, exact) in [(t.roundedMean(0)!, t.mean(0)!), (t.roundedStd(0)!, t.std(0)!)] {
                XCTAssertLessThanOrEqual(abs(rounded - exact), 0.00005 + 1e-15)
                XCTAssertEqual((rounded * 10_000).rounded() / 10_000, rounded)
            }
        }
    }

    func testThreadCountChangesNothing() {
        let images = store(count: 37, channels: 2, height: 4, width: 6) { k, c, i in UInt8((k * 31 + c * 7 + i * i) % 251) }
        let one = ChannelStatistics(images, threads: 1)
        for threads in [2, 5, 64] { XCTAssertEqual(ChannelStatistics(images, threads: threads), one) }
        XCTAssertEqual(one.pixelsPerChannel, 37 * 24)
    }
}
