import MixCore

/// MixShard v4 op records: how a sample records the `[augment]` ops beyond crop and flip.
/// The offsets are in `MixShardLayout.Ops` (DESIGN.md, "Op record"); this file encodes,
/// decodes and checks them. A chunk of a v4 shard with provenance stores, after its n
/// provenance records, n op records of 176 bytes: the primary's image ops, the partner's,
/// and the erasing record.
extension Provenance {
    /// Writes this record's ops (`MixShardLayout.opRecordBytes` bytes) at `at`.
    public func writeOps(into buf: UnsafeMutableRawBufferPointer, at: Int) {
        typealias O = MixShardLayout.Ops
        UnsafeMutableRawBufferPointer(rebasing: buf[at..<(at + MixShardLayout.opRecordBytes)]).initializeMemory(as: UInt8.self, repeating: 0)
        for (base, ops) in [(at + O.primary, primaryOps), (at + O.partner, partnerOps)] {
            precondition(ops.ops.count <= ImageOps.maxOps, "more ops than a record holds")
            buf[base + O.count] = UInt8(ops.ops.count)
            if let c = ops.resizedCrop {
                buf[base + O.flags] = O.resizedCrop
                buf.storeBytes(of: c.top.littleEndian, toByteOffset: base + O.cropTop, as: UInt16.self)
                buf.storeBytes(of: c.left.littleEndian, toByteOffset: base + O.cropLeft, as: UInt16.self)
                buf.storeBytes(of: c.height.littleEndian, toByteOffset: base + O.cropHeight, as: UInt16.self)
                buf.storeBytes(of: c.width.littleEndian, toByteOffset: base + O.cropWidth, as: UInt16.self)
            }
            for (i, op) in ops.ops.enumerated() {
                let slot = base + O.slots + i * O.slotBytes
                buf[slot] = op.op.rawValue
                buf.storeBytes(of: op.magnitude.bitPattern.littleEndian, toByteOffset: slot + O.slotMagnitude, as: UInt32.self)
            }
        }
        let e = at + O.erasing
        buf[e + O.fill] = erasing.fill?.rawValue ?? 0
        buf.storeBytes(of: erasing.box.top.littleEndian, toByteOffset: e + O.eraseTop, as: UInt16.self)
        buf.storeBytes(of: erasing.box.left.littleEndian, toByteOffset: e + O.eraseLeft, as: UInt16.self)
        buf.storeBytes(of: erasing.box.height.littleEndian, toByteOffset: e + O.eraseHeight, as: UInt16.self)
        buf.storeBytes(of: erasing.box.width.littleEndian, toByteOffset: e + O.eraseWidth, as: UInt16.self)
    }

    /// Reads the op record at `at` into this record and checks it (rule 7b); `fail` builds
    /// the error (it knows file, chunk and sample).
    mutating func readOps(_ b: UnsafeRawBufferPointer, at: Int, header h: ShardHeader, fail: (String) -> Error) throws {
        typealias O = MixShardLayout.Ops
        func image(_ base: Int, _ which: String) throws -> ImageOps {
            let count = Int(b[base + O.count])
            let flags = b[base + O.flags]
            guard count <= ImageOps.maxOps else { throw fail("ops: the \(which) records \(count) ops, at most \(ImageOps.maxOps)") }
            guard flags & ~O.resizedCrop == 0, b.le(UInt16.self, at: base + O.reserved) == 0,
                  b.le(UInt32.self, at: base + O.reserved2) == 0 else {
                throw fail("ops: the \(which)'s record has unknown flags \(flags) or non-zero reserved bytes")
            }
            let box = CropBox(top: b.le(UInt16.self, at: base + O.cropTop), left: b.le(UInt16.self, at: base + O.cropLeft),
                              height: b.le(UInt16.self, at: base + O.cropHeight), width: b.le(UInt16.self, at: base + O.cropWidth))
            var crop: CropBox?
            if flags & O.resizedCrop != 0 {
                guard box.fits(height: Int(h.height), width: Int(h.width)) else {
                    throw fail("ops: the \(which)'s resized crop (top \(box.top), left \(box.left), \(box.height)×\(box.width)) "
                               + "is not a box within the \(h.width)×\(h.height) image")
                }
                crop = box
            } else if box != CropBox(top: 0, left: 0, height: 0, width: 0) {
                throw fail("ops: the \(which) has a resized crop box but no resized-crop flag")
            }
            var ops: [AppliedOp] = []
            for i in 0..<ImageOps.maxOps {
                let slot = base + O.slots + i * O.slotBytes
                let id = b[slot]
                let magnitude = Float(bitPattern: b.le(UInt32.self, at: slot + O.slotMagnitude))
                let reserved = UInt32(b[slot + 1]) | UInt32(b[slot + 2]) << 8 | UInt32(b[slot + 3]) << 16
                if i >= count {
                    guard id == 0, reserved == 0, magnitude.bitPattern == 0 else {
                        throw fail("ops: the \(which)'s op slot \(i) is beyond its \(count) ops but not zero")
                    }
                    continue
                }
                guard let op = PolicyOp(rawValue: id), op != .resizedCrop else {
                    throw fail("ops: the \(which)'s op \(i) has unknown id \(id)")
                }
                guard reserved == 0 else { throw fail("ops: the \(which)'s op \(i) has non-zero reserved bytes") }
                guard magnitude.isFinite else { throw fail("ops: the \(which)'s op \(i) (\(op.name)) has magnitude \(magnitude)") }
                ops.append(AppliedOp(op, magnitude))
            }
            return ImageOps(resizedCrop: crop, ops: ops)
        }
        primaryOps = try image(at + O.primary, "primary")
        partnerOps = try image(at + O.partner, "partner")
        let e = at + O.erasing
        let fillByte = b[e + O.fill]
        let box = CropBox(top: b.le(UInt16.self, at: e + O.eraseTop), left: b.le(UInt16.self, at: e + O.eraseLeft),
                          height: b.le(UInt16.self, at: e + O.eraseHeight), width: b.le(UInt16.self, at: e + O.eraseWidth))
        guard b[e + O.eraseReserved] == 0, b[e + O.eraseReserved + 1] == 0, b[e + O.eraseReserved + 2] == 0,
              b.le(UInt32.self, at: e + O.eraseReserved2) == 0 else {
            throw fail("ops: the erasing record has non-zero reserved bytes")
        }
        if fillByte == 0 {
            guard box == Erasing.none.box else { throw fail("ops: an erasing box without a fill") }
            erasing = .none
        } else {
            guard let fill = Erasing.Fill(rawValue: fillByte) else { throw fail("ops: erasing fill \(fillByte) is unknown") }
            guard box.fits(height: Int(h.height), width: Int(h.width)) else {
                throw fail("ops: the erased box (top \(box.top), left \(box.left), \(box.height)×\(box.width)) "
                           + "is not a box within the \(h.width)×\(h.height) image")
            }
            erasing = Erasing(fill: fill, box: box)
        }
        if kind == .copy && partnerOps != primaryOps { throw fail("ops: a copy must record the same ops for primary and partner") }
        if isReference && (!primaryOps.isIdentity || !erasing.isNone) {
            throw fail("ops: a reference has ops other than the identity (its pixels must be stored)")
        }
    }

    /// A short description of the v4 ops, e.g. `ops ResizedCrop(0,2,30×28) Rotate(-12.0) | Identity; erase zero (3,4,10×8)`;
    /// empty when there are none.
    public var opsSummary: String {
        guard hasOps else { return "" }
        func image(_ o: ImageOps) -> String {
            var parts: [String] = []
            if let c = o.resizedCrop { parts.append("ResizedCrop(\(c.top),\(c.left),\(c.height)×\(c.width))") }
            parts += o.ops.map { "\($0.op.name)(\(Wording.float($0.magnitude)))" }
            return parts.isEmpty ? "-" : parts.joined(separator: " ")
        }
        var s = "ops " + image(primaryOps)
        if kind != .copy { s += " | " + image(partnerOps) }
        if let fill = erasing.fill {
            s += "; erase \(fill == .zero ? "zero" : "random") (\(erasing.box.top),\(erasing.box.left),\(erasing.box.height)×\(erasing.box.width))"
        }
        return s
    }
}
