/// Mutations of MixShard files, most of which keep their checksums valid
/// (see `ShardBytes`): byte-level mutations with the CRCs recomputed, header,
/// index and footer fields set to interesting values, and payload-level edits
/// (pixels, label floats or v3 sparse label records, provenance records, chunk
/// counts, the v3 label smoothing) re-encoded into a self-consistent file.
public struct ShardMutator {
    /// The seed files.
    public let seeds: [[UInt8]]
    /// The seeds taken apart (nil where a seed is not well formed).
    let models: [ShardBytes?]

    public init(seeds: [[UInt8]]) {
        self.seeds = seeds
        models = seeds.map { ShardBytes.parse($0) }
    }

    /// Interesting label floats: NaN, infinities, −0, denormals, values just off 1.
    static let floats: [Float] = [.nan, .infinity, -.infinity, -0.0, 0, 1, 0.5, 2, -1, 1.0001, 0.9999, .greatestFiniteMagnitude,
                                  .leastNonzeroMagnitude, 1e-30, 3.4e38, 0.25, 0.75]

    public func mutate(rng: inout FuzzRNG) -> [UInt8] {
        let k = rng.below(seeds.count)
        var bytes = seeds[k]
        switch rng.below(20) {
        case 0..<5: // bytes anywhere, checksums usually recomputed
            ByteMutator.mutate(&bytes, rng: &rng, donors: seeds)
            if rng.chance(0.85) { ShardBytes.fixChecksums(&bytes, deep: rng.chance(0.7)) }
        case 5..<10: // fields at interesting values, checksums recomputed
            for _ in 0..<rng.smallCount(max: 3) { mutateField(&bytes, rng: &rng) }
            ShardBytes.fixChecksums(&bytes, deep: rng.chance(0.5))
        case 10..<18: // the payload or the structure, re-encoded consistently
            if var model = models[k] {
                bytes = mutateModel(&model, rng: &rng)
            } else {
                ByteMutator.mutate(&bytes, rng: &rng, donors: seeds)
            }
            if rng.chance(0.15) {
                mutateField(&bytes, rng: &rng)
                ShardBytes.fixChecksums(&bytes, deep: true)
            }
        default: // one seed's header on another's body
            let other = seeds[rng.below(seeds.count)]
            if bytes.count >= 64 && other.count >= 64 {
                bytes.replaceSubrange(0..<64, with: other[0..<64])
            }
            ByteMutator.mutate(&bytes, rng: &rng, donors: seeds, maxStack: 2)
            ShardBytes.fixChecksums(&bytes, deep: true)
        }
        return bytes
    }

    /// Sets one header, index or footer field to an interesting (or nudged) value.
    func mutateField(_ bytes: inout [UInt8], rng: inout FuzzRNG) {
        guard bytes.count >= 96 else {
            ByteMutator.writeInteresting(&bytes, rng: &rng)
            return
        }
        let footer = bytes.count - 32
        let io = Int(clamping: ByteMutator.read(bytes, at: footer, width: 8))
        var choices: [(Int, Int)] = ShardBytes.headerFields.map { ($0.offset, $0.width) }
        choices += ShardBytes.footerFields.map { (footer + $0.offset, $0.width) }
        if io >= 64 && io < footer {
            var e = io
            while e + 32 <= footer {
                choices += ShardBytes.indexFields.map { (e + $0.offset, $0.width) }
                e += 32
            }
        }
        let (at, width) = rng.pick(choices)
        let old = ByteMutator.read(bytes, at: at, width: width)
        let value: UInt64
        switch rng.below(4) {
        case 0: value = old &+ UInt64(rng.int(in: 1...4))
        case 1: value = old &- UInt64(rng.int(in: 1...4))
        case 2: value = rng.next()
        default: value = rng.pick(ByteMutator.interesting)
        }
        ByteMutator.write(&bytes, value, at: at, width: width)
        // The header's sample count is repeated in the footer: keep them agreeing half the time.
        if at == 16 && rng.chance(0.5) { ByteMutator.write(&bytes, value, at: footer + 16, width: 4) }
        if at == 20 && rng.chance(0.5) { ByteMutator.write(&bytes, value, at: footer + 8, width: 4) }
    }

    func mutateModel(_ m: inout ShardBytes, rng: inout FuzzRNG) -> [UInt8] {
        var rawOverride: [Int: UInt32] = [:]
        var footerSamples: UInt32?
        for _ in 0..<rng.smallCount(max: 3) {
            guard !m.chunks.isEmpty else { break }
            let i = rng.below(m.chunks.count)
            let c = m.chunks[i]
            let images = m.storedRegion(c)
            let labels = Int(c.sampleCount) * m.labelBytes
            switch rng.below(13) {
            case 0, 1: // a label: a float of a dense row, or a field of a sparse record
                guard labels > 0, images <= c.raw.count - labels else { continue }
                if m.sparseLabels {
                    let record = images + 12 * rng.below(Int(c.sampleCount))
                    let f = rng.pick(ShardBytes.sparseLabelFields)
                    let value: UInt64
                    if f.offset == 8 {
                        value = UInt64(rng.pick(ShardMutator.floats).bitPattern)
                    } else {
                        // A class just inside or outside K, another record's class, or anything.
                        let k = UInt64(m.classCount)
                        value = rng.pick([k, k &- 1, k &+ 1, 0, UInt64(ByteMutator.read(m.chunks[i].raw, at: images + 12 * rng.below(Int(c.sampleCount)), width: 4)),
                                          rng.pick(ByteMutator.interesting)])
                    }
                    ByteMutator.write(&m.chunks[i].raw, value, at: record + f.offset, width: 4)
                } else {
                    let at = images + 4 * rng.below(labels / 4)
                    ByteMutator.write(&m.chunks[i].raw, UInt64(rng.pick(ShardMutator.floats).bitPattern), at: at, width: 4)
                }
            case 12: // the label smoothing ε (v3; reserved bytes before), or the label type
                if rng.chance(0.7) {
                    let f = ShardBytes.labelSmoothingField
                    let value = rng.chance(0.8) ? UInt64(rng.pick(ShardMutator.floats + [0.1, 1e-8, 0x1p-149]).bitPattern) : rng.next()
                    ByteMutator.write(&m.header, value, at: f.offset, width: f.width)
                } else {
                    m.header[37] = UInt8(rng.below(4))
                }
            case 2, 3, 4: // a provenance field, or (v4) an op-record field
                let ops = m.opRecordBytes
                if ops > 0, rng.chance(0.4) {
                    let n = Int(c.sampleCount), region = images + labels + n * (m.provenanceBytes + ops)
                    guard n > 0, region <= c.raw.count else { continue }
                    let record = images + labels + n * m.provenanceBytes + ops * rng.below(n)
                    let f = rng.pick(ShardBytes.opRecordFields)
                    let value: UInt64 = f.width == 4 && rng.chance(0.5) ? UInt64(rng.pick(ShardMutator.floats).bitPattern)
                        : rng.chance(0.5) ? UInt64(rng.below(40)) : rng.pick(ByteMutator.interesting)
                    ByteMutator.write(&m.chunks[i].raw, value, at: record + f.offset, width: f.width)
                    continue
                }
                let size = m.provenanceBytes
                guard size > 0, c.sampleCount > 0, images <= c.raw.count - labels - Int(c.sampleCount) * size else { continue }
                let record = images + labels + size * rng.below(Int(c.sampleCount))
                let fields = size == 12 ? Array(ShardBytes.recordFields.prefix(3)) : ShardBytes.recordFields
                let f = rng.pick(fields)
                let value: UInt64 = f.offset == 8 ? UInt64(rng.pick(ShardMutator.floats).bitPattern) : rng.pick(ByteMutator.interesting)
                ByteMutator.write(&m.chunks[i].raw, rng.chance(0.2) ? rng.next() : value, at: record + f.offset, width: f.width)
            case 5: // pixel or any payload bytes
                ByteMutator.mutate(&m.chunks[i].raw, rng: &rng, donors: [], maxStack: 3)
            case 6: // sample or image count of a chunk
                let v = UInt32(truncatingIfNeeded: rng.chance(0.5) ? rng.pick(ByteMutator.interesting) : UInt64(rng.below(8)))
                if rng.chance(0.5) { m.chunks[i].sampleCount = v } else { m.chunks[i].imageCount = v }
            case 7: // first sample
                m.chunks[i].firstSample = UInt32(truncatingIfNeeded: rng.chance(0.5) ? rng.pick(ByteMutator.interesting) : UInt64(rng.below(8)))
            case 8: // chunks dropped, duplicated or swapped
                switch rng.below(3) {
                case 0: m.chunks.remove(at: i)
                case 1: m.chunks.insert(c, at: rng.below(m.chunks.count + 1))
                default: m.chunks.swapAt(i, rng.below(m.chunks.count))
                }
                if rng.chance(0.5) {
                    ByteMutator.write(&m.header, UInt64(m.chunks.count), at: 20, width: 4)
                }
            case 9: // a declared raw size that differs from the payload
                rawOverride[i] = UInt32(truncatingIfNeeded: rng.chance(0.5) ? rng.pick(ByteMutator.interesting) : UInt64(max(0, c.raw.count + rng.int(in: -8...8))))
            case 10: // a header field (shape, codec, filter, flags, version, counts), the payload reinterpreted
                let f = rng.pick(ShardBytes.headerFields)
                let value = rng.chance(0.6) ? UInt64(rng.below(6)) : rng.pick(ByteMutator.interesting)
                ByteMutator.write(&m.header, value, at: f.offset, width: f.width)
            default: // the footer's sample count
                footerSamples = UInt32(truncatingIfNeeded: rng.pick(ByteMutator.interesting))
            }
        }
        return m.encoded(rawBytesOverride: rawOverride, footerSampleCount: footerSamples)
    }
}
