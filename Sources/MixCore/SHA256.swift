import CSHA256
/// SHA-256 (FIPS 180-4) in pure Swift.
///
/// Used for dataset fingerprints and shard checksums, so it has to keep up
/// with disk reads: whole 64-byte blocks are compressed straight from the
/// caller's buffer (no copy), the 64 rounds are fully unrolled over a rolling
/// 16-word message schedule held in locals, and nothing is allocated per block.
///
///     var h = SHA256()
///     h.update(part1); h.update(part2)
///     let digest = h.finalize()            // 32 bytes
///     SHA256.hex(digest)                   // 64 lowercase hex digits
public struct SHA256: Sendable {
    // Chaining state H0...H7.
    private var h0: UInt32 = 0x6A09_E667
    private var h1: UInt32 = 0xBB67_AE85
    private var h2: UInt32 = 0x3C6E_F372
    private var h3: UInt32 = 0xA54F_F53A
    private var h4: UInt32 = 0x510E_527F
    private var h5: UInt32 = 0x9B05_688C
    private var h6: UInt32 = 0x1F83_D9AB
    private var h7: UInt32 = 0x5BE0_CD19
    /// Bytes of a partial block not yet compressed (only `pending` of them are valid).
    private var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var pending = 0
    /// Total message length so far, in bytes.
    private var length: UInt64 = 0

    /// Digest size in bytes.
    public static let byteCount = 32

    /// Whether this hasher uses the CPU's SHA extensions (when present) or the portable Swift rounds.
    private var hardware = SHA256.hardwareAvailable

    /// True when the CPU has the x86 SHA extensions; checked once.
    public static let hardwareAvailable = mxs_sha256_hw_available() == 1

    public init() {}

    /// A hasher that never uses the SHA extensions (the reference for tests).
    public init(portable: Bool) {
        hardware = portable ? false : SHA256.hardwareAvailable
    }

    /// Feeds more message bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return }
        var n = bytes.count
        length &+= UInt64(n)
        if pending > 0 {
            let take = min(64 - pending, n)
            let at = pending
            withUnsafeMutableBytes(of: &buffer) { buf in
                (buf.baseAddress! + at).copyMemory(from: p, byteCount: take)
            }
            pending += take
            p += take
            n -= take
            if pending < 64 { return }
            compressBuffer()
            pending = 0
        }
        let blocks = n / 64
        if blocks > 0 {
            compress(p, blocks: blocks)
            p += blocks * 64
            n -= blocks * 64
        }
        if n > 0 {
            withUnsafeMutableBytes(of: &buffer) { buf in
                buf.baseAddress!.copyMemory(from: p, byteCount: n)
            }
            pending = n
        }
    }

    /// Feeds more message bytes.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Pads the message, returns the 32-byte digest and resets the hasher
    /// to its initial state (so it may be reused for a new message).
    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        // 0x80, zeros up to 56 mod 64, then the 64-bit big-endian bit length.
        var tail = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                    UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let padCount = pending < 56 ? 56 - pending : 120 - pending
        withUnsafeMutableBytes(of: &tail) { t in
            t[0] = 0x80
            t.storeBytes(of: bitLength.bigEndian, toByteOffset: padCount, as: UInt64.self)
            update(UnsafeRawBufferPointer(rebasing: t[0 ..< padCount + 8]))
        }
        precondition(pending == 0, "SHA256: padding did not end on a block boundary")
        let words = [h0, h1, h2, h3, h4, h5, h6, h7]
        var digest = [UInt8](repeating: 0, count: 32)
        for (i, w) in words.enumerated() {
            digest[4 * i] = UInt8(truncatingIfNeeded: w >> 24)
            digest[4 * i + 1] = UInt8(truncatingIfNeeded: w >> 16)
            digest[4 * i + 2] = UInt8(truncatingIfNeeded: w >> 8)
            digest[4 * i + 3] = UInt8(truncatingIfNeeded: w)
        }
        self = SHA256(portable: !hardware)
        return digest
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var h = SHA256()
        h.update(bytes)
        return h.finalize()
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// Lowercase hexadecimal text of a digest (or of any bytes).
    public static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(2 * digest.count)
        for b in digest {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The digest of `bytes` as 64 lowercase hex digits (as printed by `sha256sum`).
    public static func hexDigest(of bytes: UnsafeRawBufferPointer) -> String {
        hex(hash(bytes))
    }

    // MARK: - Compression

    private mutating func compressBuffer() {
        var copy = buffer
        withUnsafeBytes(of: &copy) { compress($0.baseAddress!, blocks: 1) }
    }

    @inline(__always)
    private static func load(_ p: UnsafeRawPointer, _ i: Int) -> UInt32 {
        UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
    }

    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x &>> n) | (x &<< (32 &- n))
    }

    /// σ0 of the message schedule.
    @inline(__always)
    private static func s0(_ x: UInt32) -> UInt32 {
        rotr(rotr(x, 11) ^ x, 7) ^ (x &>> 3)
    }

    /// σ1 of the message schedule.
    @inline(__always)
    private static func s1(_ x: UInt32) -> UInt32 {
        rotr(rotr(x, 2) ^ x, 17) ^ (x &>> 10)
    }

    /// Σ0(a) = ROTR²(a) ^ ROTR¹³(a) ^ ROTR²²(a), factored to need fewer register copies.
    @inline(__always)
    private static func bigSigma0(_ a: UInt32) -> UInt32 {
        rotr(rotr(rotr(a, 9) ^ a, 11) ^ a, 2)
    }

    /// Σ1(e) = ROTR⁶(e) ^ ROTR¹¹(e) ^ ROTR²⁵(e), factored likewise.
    @inline(__always)
    private static func bigSigma1(_ e: UInt32) -> UInt32 {
        rotr(rotr(rotr(e, 14) ^ e, 5) ^ e, 6)
    }

    /// One round: T1 = h + Σ1(e) + Ch(e,f,g) + K[t] + W[t]; d += T1; h = T1 + Σ0(a) + Maj(a,b,c).
    /// The caller rotates the variable names instead of moving values. Maj(a,b,c) is
    /// b ^ ((a ^ b) & (b ^ c)), where b ^ c is the previous round's a ^ b (kept in `bc`).
    @inline(__always)
    private static func round(_ d: inout UInt32, _ h: inout UInt32,
                              _ a: UInt32, _ b: UInt32,
                              _ e: UInt32, _ f: UInt32, _ g: UInt32, _ kw: UInt32,
                              _ bc: inout UInt32) {
        let t1 = h &+ kw &+ bigSigma1(e) &+ (g ^ (e & (f ^ g)))
        let ab = a ^ b
        let maj = b ^ (ab & bc)
        bc = ab
        d = d &+ t1
        h = t1 &+ bigSigma0(a) &+ maj
    }

    /// Compresses `blocks` consecutive 64-byte blocks starting at `start`.
    private mutating func compress(_ start: UnsafeRawPointer, blocks: Int) {
        if hardware {
            var state = (h0, h1, h2, h3, h4, h5, h6, h7)
            withUnsafeMutableBytes(of: &state) { s in
                mxs_sha256_hw_blocks(s.baseAddress!.assumingMemoryBound(to: UInt32.self),
                                     start.assumingMemoryBound(to: UInt8.self), blocks)
            }
            (h0, h1, h2, h3, h4, h5, h6, h7) = state
            return
        }
        var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7
        var p = start
        for _ in 0 ..< blocks {
            let (a0, b0, c0, d0, e0, f0, g0, h0_) = (a, b, c, d, e, f, g, h)
            var bc = b ^ c
            var w0 = Self.load(p, 0)
            var w1 = Self.load(p, 1)
            var w2 = Self.load(p, 2)
            var w3 = Self.load(p, 3)
            var w4 = Self.load(p, 4)
            var w5 = Self.load(p, 5)
            var w6 = Self.load(p, 6)
            var w7 = Self.load(p, 7)
            var w8 = Self.load(p, 8)
            var w9 = Self.load(p, 9)
            var w10 = Self.load(p, 10)
            var w11 = Self.load(p, 11)
            var w12 = Self.load(p, 12)
            var w13 = Self.load(p, 13)
            var w14 = Self.load(p, 14)
            var w15 = Self.load(p, 15)
            Self.round(&d, &h, a, b, e, f, g, 0x428A2F98 &+ w0, &bc)
            Self.round(&c, &g, h, a, d, e, f, 0x71374491 &+ w1, &bc)
            Self.round(&b, &f, g, h, c, d, e, 0xB5C0FBCF &+ w2, &bc)
            Self.round(&a, &e, f, g, b, c, d, 0xE9B5DBA5 &+ w3, &bc)
            Self.round(&h, &d, e, f, a, b, c, 0x3956C25B &+ w4, &bc)
            Self.round(&g, &c, d, e, h, a, b, 0x59F111F1 &+ w5, &bc)
            Self.round(&f, &b, c, d, g, h, a, 0x923F82A4 &+ w6, &bc)
            Self.round(&e, &a, b, c, f, g, h, 0xAB1C5ED5 &+ w7, &bc)
            Self.round(&d, &h, a, b, e, f, g, 0xD807AA98 &+ w8, &bc)
            Self.round(&c, &g, h, a, d, e, f, 0x12835B01 &+ w9, &bc)
            Self.round(&b, &f, g, h, c, d, e, 0x243185BE &+ w10, &bc)
            Self.round(&a, &e, f, g, b, c, d, 0x550C7DC3 &+ w11, &bc)
            Self.round(&h, &d, e, f, a, b, c, 0x72BE5D74 &+ w12, &bc)
            Self.round(&g, &c, d, e, h, a, b, 0x80DEB1FE &+ w13, &bc)
            Self.round(&f, &b, c, d, g, h, a, 0x9BDC06A7 &+ w14, &bc)
            Self.round(&e, &a, b, c, f, g, h, 0xC19BF174 &+ w15, &bc)
            w0 = w0 &+ Self.s0(w1) &+ w9 &+ Self.s1(w14)
            Self.round(&d, &h, a, b, e, f, g, 0xE49B69C1 &+ w0, &bc)
            w1 = w1 &+ Self.s0(w2) &+ w10 &+ Self.s1(w15)
            Self.round(&c, &g, h, a, d, e, f, 0xEFBE4786 &+ w1, &bc)
            w2 = w2 &+ Self.s0(w3) &+ w11 &+ Self.s1(w0)
            Self.round(&b, &f, g, h, c, d, e, 0x0FC19DC6 &+ w2, &bc)
            w3 = w3 &+ Self.s0(w4) &+ w12 &+ Self.s1(w1)
            Self.round(&a, &e, f, g, b, c, d, 0x240CA1CC &+ w3, &bc)
            w4 = w4 &+ Self.s0(w5) &+ w13 &+ Self.s1(w2)
            Self.round(&h, &d, e, f, a, b, c, 0x2DE92C6F &+ w4, &bc)
            w5 = w5 &+ Self.s0(w6) &+ w14 &+ Self.s1(w3)
            Self.round(&g, &c, d, e, h, a, b, 0x4A7484AA &+ w5, &bc)
            w6 = w6 &+ Self.s0(w7) &+ w15 &+ Self.s1(w4)
            Self.round(&f, &b, c, d, g, h, a, 0x5CB0A9DC &+ w6, &bc)
            w7 = w7 &+ Self.s0(w8) &+ w0 &+ Self.s1(w5)
            Self.round(&e, &a, b, c, f, g, h, 0x76F988DA &+ w7, &bc)
            w8 = w8 &+ Self.s0(w9) &+ w1 &+ Self.s1(w6)
            Self.round(&d, &h, a, b, e, f, g, 0x983E5152 &+ w8, &bc)
            w9 = w9 &+ Self.s0(w10) &+ w2 &+ Self.s1(w7)
            Self.round(&c, &g, h, a, d, e, f, 0xA831C66D &+ w9, &bc)
            w10 = w10 &+ Self.s0(w11) &+ w3 &+ Self.s1(w8)
            Self.round(&b, &f, g, h, c, d, e, 0xB00327C8 &+ w10, &bc)
            w11 = w11 &+ Self.s0(w12) &+ w4 &+ Self.s1(w9)
            Self.round(&a, &e, f, g, b, c, d, 0xBF597FC7 &+ w11, &bc)
            w12 = w12 &+ Self.s0(w13) &+ w5 &+ Self.s1(w10)
            Self.round(&h, &d, e, f, a, b, c, 0xC6E00BF3 &+ w12, &bc)
            w13 = w13 &+ Self.s0(w14) &+ w6 &+ Self.s1(w11)
            Self.round(&g, &c, d, e, h, a, b, 0xD5A79147 &+ w13, &bc)
            w14 = w14 &+ Self.s0(w15) &+ w7 &+ Self.s1(w12)
            Self.round(&f, &b, c, d, g, h, a, 0x06CA6351 &+ w14, &bc)
            w15 = w15 &+ Self.s0(w0) &+ w8 &+ Self.s1(w13)
            Self.round(&e, &a, b, c, f, g, h, 0x14292967 &+ w15, &bc)
            w0 = w0 &+ Self.s0(w1) &+ w9 &+ Self.s1(w14)
            Self.round(&d, &h, a, b, e, f, g, 0x27B70A85 &+ w0, &bc)
            w1 = w1 &+ Self.s0(w2) &+ w10 &+ Self.s1(w15)
            Self.round(&c, &g, h, a, d, e, f, 0x2E1B2138 &+ w1, &bc)
            w2 = w2 &+ Self.s0(w3) &+ w11 &+ Self.s1(w0)
            Self.round(&b, &f, g, h, c, d, e, 0x4D2C6DFC &+ w2, &bc)
            w3 = w3 &+ Self.s0(w4) &+ w12 &+ Self.s1(w1)
            Self.round(&a, &e, f, g, b, c, d, 0x53380D13 &+ w3, &bc)
            w4 = w4 &+ Self.s0(w5) &+ w13 &+ Self.s1(w2)
            Self.round(&h, &d, e, f, a, b, c, 0x650A7354 &+ w4, &bc)
            w5 = w5 &+ Self.s0(w6) &+ w14 &+ Self.s1(w3)
            Self.round(&g, &c, d, e, h, a, b, 0x766A0ABB &+ w5, &bc)
            w6 = w6 &+ Self.s0(w7) &+ w15 &+ Self.s1(w4)
            Self.round(&f, &b, c, d, g, h, a, 0x81C2C92E &+ w6, &bc)
            w7 = w7 &+ Self.s0(w8) &+ w0 &+ Self.s1(w5)
            Self.round(&e, &a, b, c, f, g, h, 0x92722C85 &+ w7, &bc)
            w8 = w8 &+ Self.s0(w9) &+ w1 &+ Self.s1(w6)
            Self.round(&d, &h, a, b, e, f, g, 0xA2BFE8A1 &+ w8, &bc)
            w9 = w9 &+ Self.s0(w10) &+ w2 &+ Self.s1(w7)
            Self.round(&c, &g, h, a, d, e, f, 0xA81A664B &+ w9, &bc)
            w10 = w10 &+ Self.s0(w11) &+ w3 &+ Self.s1(w8)
            Self.round(&b, &f, g, h, c, d, e, 0xC24B8B70 &+ w10, &bc)
            w11 = w11 &+ Self.s0(w12) &+ w4 &+ Self.s1(w9)
            Self.round(&a, &e, f, g, b, c, d, 0xC76C51A3 &+ w11, &bc)
            w12 = w12 &+ Self.s0(w13) &+ w5 &+ Self.s1(w10)
            Self.round(&h, &d, e, f, a, b, c, 0xD192E819 &+ w12, &bc)
            w13 = w13 &+ Self.s0(w14) &+ w6 &+ Self.s1(w11)
            Self.round(&g, &c, d, e, h, a, b, 0xD6990624 &+ w13, &bc)
            w14 = w14 &+ Self.s0(w15) &+ w7 &+ Self.s1(w12)
            Self.round(&f, &b, c, d, g, h, a, 0xF40E3585 &+ w14, &bc)
            w15 = w15 &+ Self.s0(w0) &+ w8 &+ Self.s1(w13)
            Self.round(&e, &a, b, c, f, g, h, 0x106AA070 &+ w15, &bc)
            w0 = w0 &+ Self.s0(w1) &+ w9 &+ Self.s1(w14)
            Self.round(&d, &h, a, b, e, f, g, 0x19A4C116 &+ w0, &bc)
            w1 = w1 &+ Self.s0(w2) &+ w10 &+ Self.s1(w15)
            Self.round(&c, &g, h, a, d, e, f, 0x1E376C08 &+ w1, &bc)
            w2 = w2 &+ Self.s0(w3) &+ w11 &+ Self.s1(w0)
            Self.round(&b, &f, g, h, c, d, e, 0x2748774C &+ w2, &bc)
            w3 = w3 &+ Self.s0(w4) &+ w12 &+ Self.s1(w1)
            Self.round(&a, &e, f, g, b, c, d, 0x34B0BCB5 &+ w3, &bc)
            w4 = w4 &+ Self.s0(w5) &+ w13 &+ Self.s1(w2)
            Self.round(&h, &d, e, f, a, b, c, 0x391C0CB3 &+ w4, &bc)
            w5 = w5 &+ Self.s0(w6) &+ w14 &+ Self.s1(w3)
            Self.round(&g, &c, d, e, h, a, b, 0x4ED8AA4A &+ w5, &bc)
            w6 = w6 &+ Self.s0(w7) &+ w15 &+ Self.s1(w4)
            Self.round(&f, &b, c, d, g, h, a, 0x5B9CCA4F &+ w6, &bc)
            w7 = w7 &+ Self.s0(w8) &+ w0 &+ Self.s1(w5)
            Self.round(&e, &a, b, c, f, g, h, 0x682E6FF3 &+ w7, &bc)
            w8 = w8 &+ Self.s0(w9) &+ w1 &+ Self.s1(w6)
            Self.round(&d, &h, a, b, e, f, g, 0x748F82EE &+ w8, &bc)
            w9 = w9 &+ Self.s0(w10) &+ w2 &+ Self.s1(w7)
            Self.round(&c, &g, h, a, d, e, f, 0x78A5636F &+ w9, &bc)
            w10 = w10 &+ Self.s0(w11) &+ w3 &+ Self.s1(w8)
            Self.round(&b, &f, g, h, c, d, e, 0x84C87814 &+ w10, &bc)
            w11 = w11 &+ Self.s0(w12) &+ w4 &+ Self.s1(w9)
            Self.round(&a, &e, f, g, b, c, d, 0x8CC70208 &+ w11, &bc)
            w12 = w12 &+ Self.s0(w13) &+ w5 &+ Self.s1(w10)
            Self.round(&h, &d, e, f, a, b, c, 0x90BEFFFA &+ w12, &bc)
            w13 = w13 &+ Self.s0(w14) &+ w6 &+ Self.s1(w11)
            Self.round(&g, &c, d, e, h, a, b, 0xA4506CEB &+ w13, &bc)
            w14 = w14 &+ Self.s0(w15) &+ w7 &+ Self.s1(w12)
            Self.round(&f, &b, c, d, g, h, a, 0xBEF9A3F7 &+ w14, &bc)
            w15 = w15 &+ Self.s0(w0) &+ w8 &+ Self.s1(w13)
            Self.round(&e, &a, b, c, f, g, h, 0xC67178F2 &+ w15, &bc)
            a = a &+ a0; b = b &+ b0; c = c &+ c0; d = d &+ d0
            e = e &+ e0; f = f &+ f0; g = g &+ g0; h = h &+ h0_
            p += 64
        }
        h0 = a; h1 = b; h2 = c; h3 = d; h4 = e; h5 = f; h6 = g; h7 = h
    }
}
