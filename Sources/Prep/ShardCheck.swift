import MixCore
import ShardFormat
import ShardStore
import Pipeline

/// Full verification of one shard file against what the plan expects of it.
enum ShardCheck {
    /// Reads every chunk (all CRCs, label rows, records) and checks the header against
    /// the job — in v3, sparse labels with the split's smoothing (`smoothing`, the
    /// pipeline's `mix.smoothing`, for training shards; 0 for the others); returns the
    /// file's manifest entry and statistics.
    /// `source` resolves reference samples (training shards of a directory with a source copy).
    /// With `samples` (verify), every record must also keep `samples.rules`, and the outcome
    /// carries the label readings of every sample (for `LabelLedger`; none without provenance,
    /// but for a source copy, whose sample k is source image k unmixed).
    static func check(path: String, job: ShardJob, shape: SampleShape, encoding: ShardEncoding, smoothing: Double,
                      source: SourceImages?, samples: SampleChecks? = nil) throws -> ShardOutcome {
        let reader = try ShardReader(path: path, source: job.split == .train ? source : nil)
        let h = reader.header
        let expectedEpoch: UInt32 = job.split == .train ? UInt32(job.epoch) : MixShardLayout.testEpoch
        var wrong: [String] = []
        if h.split != job.split { wrong.append("split") }
        if h.epoch != expectedEpoch { wrong.append("epoch \(h.epoch) (expected \(expectedEpoch))") }
        if h.shardIndex != UInt32(job.shardIndex) { wrong.append("shardIndex \(h.shardIndex) (expected \(job.shardIndex))") }
        if reader.sampleCount != job.count { wrong.append("sampleCount \(reader.sampleCount) (expected \(job.count))") }
        if reader.shape != shape { wrong.append("sample shape") }
        if h.codec != encoding.codec || h.imageFilter != encoding.filter || Int(h.samplesPerChunk) != encoding.samplesPerChunk
            || h.hasProvenance != encoding.provenance {
            wrong.append("encoding")
        }
        if h.version != encoding.version { wrong.append("version \(h.version) (expected \(encoding.version))") }
        let labelType = MixShardLayout.labelType(writtenIn: encoding.version)
        let epsilon: Float = job.split == .train && labelType == .sparse ? Float(smoothing) : 0
        if h.version == encoding.version && (h.labelType != labelType || h.labelSmoothing.bitPattern != epsilon.bitPattern) {
            wrong.append("labels \(Inspector.labelsText(h)) (expected \(labelType == .sparse ? "sparse, smoothing \(Wording.float(epsilon))" : "float32"))")
        }
        guard wrong.isEmpty else { throw MixError.file(path, "header: does not match the pipeline: \(wrong.joined(separator: ", "))") }
        // A source copy needs no further check here: the header comparison above already holds it to
        // split source, the pipeline's source encoding and no provenance (so no references), and readAll
        // checks every chunk's CRC — what opening it as `SourceImages` would check a second time.
        let block = try reader.readAll()
        var labels: [LabelReading]?
        if let samples, job.split == .source || !block.provenance.isEmpty {
            for (s, p) in block.provenance.enumerated() {
                if let problem = samples.rules.problem(p, split: job.split, position: job.positions.lowerBound + s, version: h.version) {
                    throw MixError.file(path, "chunk \(s / Int(h.samplesPerChunk)): sample \(s): \(problem)")
                }
            }
            labels = LabelReading.all(of: block, smoothing: job.split == .train ? samples.smoothing : 0)
        }
        let digest = withExtendedLifetime(reader) { SHA256.hexDigest(of: reader.bytes) }
        return ShardOutcome(entry: ShardEntry(file: job.file, samples: job.count, bytes: reader.bytes.count, sha256: digest),
                            stats: ShardStats(of: block), labels: labels)
    }

    /// The source copy of `jobs` in `directory`, opened and checked, or nil when the plan has none.
    static func openSource(directory: String, jobs: [ShardJob]) throws -> SourceImages? {
        guard let job = jobs.first(where: { $0.split == .source }) else { return nil }
        return try SourceImages(path: directory + "/" + job.file, cacheBytes: Manifest.sourceCacheBytes())
    }
}

/// What `verify` checks of each sample beyond the reader's checks.
struct SampleChecks: Sendable {
    let rules: RecordRules
    /// `mix.smoothing` (training shards; the test split and the source copy have none).
    let smoothing: Double
}
