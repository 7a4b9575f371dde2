import OpsTestSupport
import AugmentOps
import Foundation
import MixCore
import XCTest

/// Each op against its DESIGN definition (`DesignReference`, written from DESIGN.md, not
/// from the kernels), on images of every shape the ops accept, plus the properties that
/// pin the parameter conventions (shear 0 is the identity, factor 1 is the identity, ...).
final class PolicyOpTests: XCTestCase {
    /// Square, non-square, odd, grey and degenerate shapes.
    static let shapes: [(c: Int, h: Int, w: Int)] = [(3, 32, 32), (3, 24, 40), (1, 17, 9), (3, 9, 17), (3, 1, 1), (1, 2, 5), (3, 3, 3)]

    static func images() -> [PlanarImage] {
        shapes.enumerated().map { DesignReference.image(channels: $0.element.c, height: $0.element.h, width: $0.element.w, seed: UInt32($0.offset)) }
    }

    func assertSame(_ got: PlanarImage, _ want: PlanarImage, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual([got.channels, got.height, got.width], [want.channels, want.height, want.width], what, file: file, line: line)
        let differing = zip(got.pixels, want.pixels).filter { $0 != $1 }.count
        XCTAssertEqual(differing, 0, "\(what): \(differing) of \(want.pixels.count) pixels differ", file: file, line: line)
    }

    func testGeometryRecomputesFromTheDesignFormulas() throws {
        for img in Self.images() {
            let shape = "\(img.channels)×\(img.height)×\(img.width)"
            for m in [0.99, -0.99, 0.495, -0.3, 0.033, 0.0] {
                assertSame(try PolicyOp.shearX.applied(magnitude: m, to: img), DesignReference.shear(img, m, horizontal: true), "shearX \(m) \(shape)")
                assertSame(try PolicyOp.shearY.applied(magnitude: m, to: img), DesignReference.shear(img, m, horizontal: false), "shearY \(m) \(shape)")
            }
            for m in [32.0, -32.0, 5.9, -5.9, 0.7, 1.0, -1.0, 100.0] {
                assertSame(try PolicyOp.translateX.applied(magnitude: m, to: img), DesignReference.translate(img, m, horizontal: true), "translateX \(m) \(shape)")
                assertSame(try PolicyOp.translateY.applied(magnitude: m, to: img), DesignReference.translate(img, m, horizontal: false), "translateY \(m) \(shape)")
            }
            // 45° multiples meet exact halves on even sides, 30° and 60° on odd ones.
            for d in [135.0, -135.0, 45.0, 30.0, -17.5, 4.5, 60.0, 90.0, -90.0] {
                assertSame(try PolicyOp.rotate.applied(magnitude: d, to: img), DesignReference.rotate(img, d), "rotate \(d) \(shape)")
            }
        }
    }

    func testGeometryIdentitiesAndWholeTurns() throws {
        for img in Self.images() {
            XCTAssertEqual(try PolicyOp.identity.applied(magnitude: 7, to: img), img)
            XCTAssertEqual(try PolicyOp.shearX.applied(magnitude: 0, to: img), img)
            XCTAssertEqual(try PolicyOp.shearY.applied(magnitude: 0, to: img), img)
            XCTAssertEqual(try PolicyOp.translateX.applied(magnitude: 0.9, to: img), img, "int(0.9) = 0")
            XCTAssertEqual(try PolicyOp.translateY.applied(magnitude: -0.9, to: img), img)
            XCTAssertEqual(try PolicyOp.rotate.applied(magnitude: 0, to: img), img)
            XCTAssertEqual(try PolicyOp.rotate.applied(magnitude: -720, to: img), img)
            // 180°: every pixel to its point reflection.
            let turned = try PolicyOp.rotate.applied(magnitude: 180, to: img)
            for c in 0..<img.channels {
                for y in 0..<img.height { for x in 0..<img.width { XCTAssertEqual(turned[c, y, x], img[c, img.height - 1 - y, img.width - 1 - x]) } }
            }
            // A translation beyond the image leaves only the fill.
            XCTAssertEqual(try PolicyOp.translateX.applied(magnitude: Double(img.width), to: img).pixels.max(), 0)
        }
        // 90° on a square image is torch's rot90 (counter-clockwise): out(y, x) = in(x, W−1−y).
        let square = DesignReference.image(channels: 3, height: 32, width: 32, seed: 40)
        let quarter = try PolicyOp.rotate.applied(magnitude: 90, to: square)
        for c in 0..<3 { for y in 0..<32 { for x in 0..<32 { XCTAssertEqual(quarter[c, y, x], square[c, x, 31 - y]) } } }
        // Translate by k is MixCore's shift with dx = −k (the kernel the crop augmentation uses).
        for k in [-5, 3] {
            var shifted = square
            square.pixels.withUnsafeBufferPointer { s in
                shifted.pixels.withUnsafeMutableBufferPointer { o in
                    ImageTransform(dx: Int16(-k), dy: 0).apply(s.baseAddress!, into: o.baseAddress!, channels: 3, height: 32, width: 32)
                }
            }
            XCTAssertEqual(try PolicyOp.translateX.applied(magnitude: Double(k), to: square), shifted)
        }
    }

    func testColourOpsRecomputeExactlyFromTheDesignFormulas() throws {
        for img in Self.images() {
            let shape = "\(img.channels)×\(img.height)×\(img.width)"
            for m in [-0.99, -0.5, -0.033, 0.0, 0.3, 0.99] {
                assertSame(try PolicyOp.brightness.applied(magnitude: m, to: img), DesignReference.brightness(img, 1 + m), "brightness \(m) \(shape)")
                assertSame(try PolicyOp.color.applied(magnitude: m, to: img), DesignReference.saturation(img, 1 + m), "color \(m) \(shape)")
                assertSame(try PolicyOp.contrast.applied(magnitude: m, to: img), DesignReference.contrast(img, 1 + m), "contrast \(m) \(shape)")
                assertSame(try PolicyOp.sharpness.applied(magnitude: m, to: img), DesignReference.sharpness(img, 1 + m), "sharpness \(m) \(shape)")
            }
            for bits in 0...8 {
                assertSame(try PolicyOp.posterize.applied(magnitude: Double(bits), to: img), DesignReference.posterize(img, bits), "posterize \(bits) \(shape)")
            }
            for m in [1.0, 0.7, 0.5, 0.033, 0.0] {
                assertSame(try PolicyOp.solarize.applied(magnitude: m, to: img), DesignReference.solarize(img, 255 * m), "solarize \(m) \(shape)")
            }
            assertSame(try PolicyOp.autoContrast.applied(magnitude: 0, to: img), DesignReference.autoContrast(img), "autoContrast \(shape)")
            assertSame(try PolicyOp.equalize.applied(magnitude: 0, to: img), DesignReference.equalize(img), "equalize \(shape)")
        }
    }

    func testColourIdentitiesAndExtremes() throws {
        let img = DesignReference.image(channels: 3, height: 24, width: 40, seed: 9)
        for op in [PolicyOp.brightness, .color, .contrast, .sharpness] {
            XCTAssertEqual(try op.applied(magnitude: 0, to: img), img, "\(op.name) factor 1 is the identity")
        }
        XCTAssertEqual(try PolicyOp.posterize.applied(magnitude: 8, to: img), img)
        XCTAssertEqual(try PolicyOp.posterize.applied(magnitude: 0, to: img).pixels.max(), 0)
        XCTAssertEqual(try PolicyOp.solarize.applied(magnitude: 0, to: img).pixels, img.pixels.map { 255 - $0 }, "threshold 0 inverts all")
        XCTAssertEqual(try PolicyOp.brightness.applied(magnitude: -1, to: img).pixels.max(), 0, "factor 0 is black")
        // Saturation 0: every channel the floored grey.
        let grey = try PolicyOp.color.applied(magnitude: -1, to: img)
        for y in 0..<24 { for x in 0..<40 { XCTAssertTrue(grey[0, y, x] == grey[1, y, x] && grey[1, y, x] == grey[2, y, x]) } }
        // Contrast 0: one grey level everywhere.
        XCTAssertEqual(Set(try PolicyOp.contrast.applied(magnitude: -1, to: img).pixels).count, 1)
        // AutoContrast stretches each channel to 0…255 (the top often lands on 254: torchvision
        // divides by (max − min)·(1/255) in float32 and truncates); a flat channel stays.
        let stretched = try PolicyOp.autoContrast.applied(magnitude: 0, to: img)
        for c in 0..<3 {
            let plane = stretched.pixels[(c * 960)..<((c + 1) * 960)]
            XCTAssertEqual(plane.min(), 0)
            XCTAssertGreaterThanOrEqual(plane.max()!, 254)
        }
        let flat = try PlanarImage(channels: 1, height: 4, width: 4, pixels: [UInt8](repeating: 77, count: 16))
        XCTAssertEqual(try PolicyOp.autoContrast.applied(magnitude: 0, to: flat), flat)
        XCTAssertEqual(try PolicyOp.equalize.applied(magnitude: 0, to: flat), flat)
        XCTAssertEqual(try PolicyOp.sharpness.applied(magnitude: 0.99, to: flat), flat)
        // Equalize of a ramp holding every value 4 times is the ramp itself (its histogram is flat).
        let ramp = try PlanarImage(channels: 1, height: 32, width: 32, pixels: (0..<1024).map { UInt8($0 / 4) })
        XCTAssertEqual(try PolicyOp.equalize.applied(magnitude: 0, to: ramp), ramp)
    }

    func testHueIsTheHSVRotationWithinOneGreyLevel() throws {
        for img in Self.images() {
            for h in [-0.5, -0.2, 0.0, 0.05, 0.33, 0.5] {
                let got = try PolicyOp.hue.applied(magnitude: h, to: img), want = DesignReference.hue(img, h)
                let worst = zip(got.pixels, want.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1, "hue \(h) \(img.channels)×\(img.height)×\(img.width)")
            }
        }
        // Hue 0 is the identity on every colour of a 16-level cube.
        var cube = try PlanarImage(channels: 3, height: 16, width: 256)
        for i in 0..<4096 { cube.pixels[i] = UInt8((i % 16) * 17); cube.pixels[4096 + i] = UInt8((i / 16 % 16) * 17); cube.pixels[8192 + i] = UInt8((i / 256) * 17) }
        XCTAssertEqual(try PolicyOp.hue.applied(magnitude: 0, to: cube), cube)
        // Grey images have no hue: unchanged (as Pillow).
        let grey = DesignReference.image(channels: 1, height: 5, width: 5, seed: 3)
        XCTAssertEqual(try PolicyOp.hue.applied(magnitude: 0.3, to: grey), grey)
    }

    func testColorJitterIsItsOpsInItsOrder() throws {
        let img = DesignReference.image(channels: 3, height: 24, width: 40, seed: 11)
        let p = ColorJitter.Params(brightness: 1.2, contrast: 0.7, saturation: 1.4, hue: -0.08, order: [2, 0, 3, 1])
        var want = try Saturation.applied(.init(factor: 1.4), to: img)
        want = try Brightness.applied(.init(factor: 1.2), to: want)
        want = try Hue.applied(.init(factor: -0.08), to: want)
        want = try Contrast.applied(.init(factor: 0.7), to: want)
        XCTAssertEqual(try ColorJitter.applied(p, to: img), want)
        var other = p
        other.order = [0, 1, 2, 3]
        XCTAssertNotEqual(try ColorJitter.applied(other, to: img), want, "the order matters")
        XCTAssertEqual(try ColorJitter.applied(.init(order: [3, 2, 1, 0]), to: img), img, "no factors: the image")
        XCTAssertThrowsError(try ColorJitter.applied(.init(order: [0, 1, 1, 3]), to: img))
    }

    func testResizedCropIsPillowsBilinearWithinOneGreyLevel() throws {
        for img in Self.images() where img.height >= 3 && img.width >= 3 {
            let (h, w) = (img.height, img.width)
            let boxes = [(0, 0, h, w), (1, 1, h - 2, w - 2), (h / 3, w / 4, max(1, h / 2), max(1, w / 3)), (0, w - 1, 1, 1)]
            for (top, left, bh, bw) in boxes {
                let p = ResizedCrop.Params(top: top, left: left, height: bh, width: bw, outHeight: h, outWidth: w)
                let got = try ResizedCrop.applied(p, to: img)
                let want = DesignReference.resizedCrop(img, top: top, left: left, height: bh, width: bw, outHeight: h, outWidth: w)
                let worst = zip(got.pixels, want.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1, "resized crop \(bw)×\(bh) at (\(left), \(top)) of \(w)×\(h)")
            }
            // The whole image at its own size is the image; a box at its own size is the box.
            XCTAssertEqual(try ResizedCrop.applied(.init(top: 0, left: 0, height: h, width: w, outHeight: h, outWidth: w), to: img), img)
            let box = try ResizedCrop.applied(.init(top: 1, left: 1, height: h - 2, width: w - 2, outHeight: h - 2, outWidth: w - 2), to: img)
            for c in 0..<img.channels { for y in 0..<(h - 2) { for x in 0..<(w - 2) { XCTAssertEqual(box[c, y, x], img[c, y + 1, x + 1]) } } }
        }
        // A flat crop stays flat when enlarged.
        let flat = try PlanarImage(channels: 3, height: 8, width: 8, pixels: [UInt8](repeating: 200, count: 192))
        XCTAssertEqual(Set(try ResizedCrop.applied(.init(top: 2, left: 3, height: 3, width: 2, outHeight: 32, outWidth: 32), to: flat).pixels), [200])
    }

    func testEraseSetsExactlyTheBox() throws {
        for img in Self.images() {
            let (c, h, w) = (img.channels, img.height, img.width)
            let (top, left, bh, bw) = (h / 3, w / 4, (h + 1) / 2, (w + 1) / 2)
            let constant = try Erase.applied(.init(top: top, left: left, height: bh, width: bw, values: (0..<c).map { UInt8(10 + $0) }), to: img)
            let perPixel = (0..<(c * bh * bw)).map { UInt8(truncatingIfNeeded: $0 * 37 + 5) }
            let random = try Erase.applied(.init(top: top, left: left, height: bh, width: bw, values: perPixel), to: img)
            let zero = try Erase.applied(.init(top: top, left: left, height: bh, width: bw, values: [0]), to: img)
            for ch in 0..<c {
                for y in 0..<h {
                    for x in 0..<w {
                        let inside = y >= top && y < top + bh && x >= left && x < left + bw
                        XCTAssertEqual(constant[ch, y, x], inside ? UInt8(10 + ch) : img[ch, y, x])
                        XCTAssertEqual(random[ch, y, x], inside ? perPixel[(ch * bh + y - top) * bw + x - left] : img[ch, y, x])
                        XCTAssertEqual(zero[ch, y, x], inside ? 0 : img[ch, y, x])
                    }
                }
            }
        }
        let img = DesignReference.image(channels: 3, height: 8, width: 8, seed: 2)
        XCTAssertEqual(try Erase.applied(.init(top: 8, left: 0, height: 0, width: 8, values: [0]), to: img), img, "an empty box")
        XCTAssertThrowsError(try Erase.applied(.init(top: 0, left: 0, height: 2, width: 2, values: [1, 2]), to: img))
        XCTAssertThrowsError(try Erase.applied(.init(top: 7, left: 0, height: 2, width: 2, values: [1]), to: img))
    }

    /// The writer fills erased boxes with MixCore's `Erasing.apply`; `Erase` is the kernel the
    /// torchvision fixtures check. They must agree: a zero fill is `Erase` with value 0, a random
    /// fill is `Erase` with the box's bytes drawn from the same value stream, plane by plane, row
    /// by row (DESIGN.md, "The draws of an epoch, exactly").
    func testTheWritersErasingFillIsTheCheckedKernel() throws {
        var checked = 0
        for img in Self.images() {
            let (c, h, w) = (img.channels, img.height, img.width)
            for (k, (top, left, bh, bw)) in [(0, 0, h, w), (h / 3, w / 4, (h + 1) / 2, (w + 1) / 2), (h - 1, w - 1, 1, 1)].enumerated()
                where bh <= h - top && bw <= w - left {
                let box = CropBox(top: UInt16(top), left: UInt16(left), height: UInt16(bh), width: UInt16(bw))
                for fill in [Erasing.Fill.zero, .random] {
                    var written = img.pixels
                    var stream = Erasing.valueStream(seed: 7, epoch: 3, position: k)
                    written.withUnsafeMutableBufferPointer {
                        Erasing(fill: fill, box: box).apply(to: $0.baseAddress!, channels: c, height: h, width: w, values: &stream)
                    }
                    var draws = Erasing.valueStream(seed: 7, epoch: 3, position: k)
                    let values = fill == .zero ? [UInt8(0)] : (0..<(c * bh * bw)).map { _ in UInt8(draws.uniformInt(below: 256)) }
                    let kernel = try Erase.applied(.init(top: top, left: left, height: bh, width: bw, values: values), to: img)
                    XCTAssertEqual(written, kernel.pixels, "\(fill) fill, box \(bw)×\(bh) at (\(left), \(top)) of \(c)×\(h)×\(w)")
                    if fill == .random && bh * bw > 4 { XCTAssertNotEqual(written, img.pixels) }
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 8)
    }

    func testBadParametersAreOneLineErrors() throws {
        let img = DesignReference.image(channels: 3, height: 8, width: 8, seed: 1)
        func message(_ body: () throws -> Any) -> String? {
            do { _ = try body(); return nil } catch let e as MixError { return e.message } catch { return "not a MixError: \(error)" }
        }
        let cases: [(String, () throws -> Any)] = [
            ("channels", { try PlanarImage(channels: 2, height: 4, width: 4) }),
            ("size", { try PlanarImage(channels: 1, height: 0, width: 4) }),
            ("bytes", { try PlanarImage(channels: 1, height: 2, width: 2, pixels: [1, 2, 3]) }),
            ("brightness", { try PolicyOp.brightness.applied(magnitude: -1.5, to: img) }),
            ("contrast nan", { try PolicyOp.contrast.applied(magnitude: .nan, to: img) }),
            ("posterize", { try PolicyOp.posterize.applied(magnitude: 9, to: img) }),
            ("solarize", { try PolicyOp.solarize.applied(magnitude: 1.5, to: img) }),
            ("hue", { try PolicyOp.hue.applied(magnitude: 0.7, to: img) }),
            ("rotate inf", { try PolicyOp.rotate.applied(magnitude: .infinity, to: img) }),
            ("resizedCrop", { try PolicyOp.resizedCrop.applied(magnitude: 1, to: img) }),
            ("crop box", { try ResizedCrop.applied(.init(top: 4, left: 0, height: 5, width: 8, outHeight: 8, outWidth: 8), to: img) }),
            ("crop size", { try ResizedCrop.applied(.init(top: 0, left: 0, height: 8, width: 8, outHeight: 0, outWidth: 8), to: img) }),
            ("erase values", { try Erase.applied(.init(top: 0, left: 0, height: 2, width: 2, values: [1, 2]), to: img) }),
            ("bin", { try AugmentationSpace.trivialAugmentWide.magnitude(.rotate, bin: 31, height: 8, width: 8) }),
        ]
        for (name, body) in cases {
            let m = message(body)
            XCTAssertNotNil(m, "\(name) should fail")
            XCTAssertFalse(m?.contains("\n") ?? true, name)
            XCTAssertFalse(m?.hasPrefix("not a MixError") ?? true, "\(name): \(m ?? "")")
        }
    }

    func testOpIdsAreFixed() {
        let names = PolicyOp.allCases.map { "\($0.rawValue) \($0.name)" }
        XCTAssertEqual(names, ["0 Identity", "1 ShearX", "2 ShearY", "3 TranslateX", "4 TranslateY", "5 Rotate", "6 Brightness", "7 Color",
                               "8 Contrast", "9 Sharpness", "10 Posterize", "11 Solarize", "12 AutoContrast", "13 Equalize", "14 Hue", "15 ResizedCrop"])
    }

    func testMagnitudeTablesEndPoints() throws {
        let ta = AugmentationSpace.trivialAugmentWide, ra = AugmentationSpace.randAugment
        XCTAssertEqual(try ta.magnitude(.rotate, bin: 30, height: 32, width: 32), 135)
        XCTAssertEqual(try ta.magnitude(.rotate, bin: 30, negative: true, height: 32, width: 32), -135)
        XCTAssertEqual(try ta.magnitude(.translateX, bin: 30, height: 32, width: 32), 32)
        XCTAssertEqual(try ra.magnitude(.translateX, bin: 30, height: 24, width: 40), Double(Float(150.0 / 331.0 * 40)))
        XCTAssertEqual(try ta.magnitude(.solarize, bin: 0, negative: true, height: 32, width: 32), 1, "solarize is unsigned")
        XCTAssertEqual(try ta.magnitude(.solarize, bin: 30, height: 32, width: 32), 0)
        XCTAssertEqual(try (0..<31).map { try ta.magnitude(.posterize, bin: $0, height: 1, width: 1) }.first, 8)
        XCTAssertEqual(try ta.magnitude(.posterize, bin: 30, height: 1, width: 1), 2)
        XCTAssertEqual(try ra.magnitude(.posterize, bin: 30, height: 1, width: 1), 4)
        XCTAssertEqual(try ta.magnitude(.equalize, bin: 30, negative: true, height: 1, width: 1), 0)
        XCTAssertEqual(AugmentationSpace.allCases.map { $0.ops.count }, [14, 14])
    }

    /// The kernels are pure: the same bytes from many threads at once (libvips included),
    /// which the shards' thread-count invariance rests on.
    func testSameBytesFromManyThreads() throws {
        let img = DesignReference.image(channels: 3, height: 32, width: 32, seed: 5)
        let ops: [(PolicyOp, Double)] = [(.shearX, 0.7), (.rotate, -41), (.translateY, 9), (.hue, 0.2), (.equalize, 0)]
        let serial = try ops.map { try $0.0.applied(magnitude: $0.1, to: img) }
        let crop = try ResizedCrop.applied(.init(top: 3, left: 5, height: 17, width: 20, outHeight: 32, outWidth: 32), to: img)
        let results = ThreadResults(count: 64)
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            let (op, m) = ops[i % ops.count]
            let same = (try? op.applied(magnitude: m, to: img)) == serial[i % ops.count]
                && (try? ResizedCrop.applied(.init(top: 3, left: 5, height: 17, width: 20, outHeight: 32, outWidth: 32), to: img)) == crop
            results.set(i, same)
        }
        XCTAssertEqual(results.all, [Bool](repeating: true, count: 64))
    }
}

/// Per-iteration results written from concurrent threads.
final class ThreadResults: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Bool]
    init(count: Int) { values = [Bool](repeating: false, count: count) }
    func set(_ i: Int, _ v: Bool) { lock.lock(); values[i] = v; lock.unlock() }
    var all: [Bool] { lock.lock(); defer { lock.unlock() }; return values }
}
