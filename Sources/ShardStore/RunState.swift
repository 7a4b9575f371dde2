import Foundation
import MixCore
import Pipeline
import ShardFormat

/// `prep.json`: written when a run starts, before any shard, so that a rerun,
/// another worker or `mixprep finalize` knows what the directory is being
/// made from — and refuses to mix two different pipelines in one directory.
public struct RunState: Codable, Equatable, Sendable {
    public static let fileName = "prep.json"

    public var identity: PrepIdentity
    public var source: SourceInfo
    public var pipeline: Pipeline
    /// The MixShard version the directory's shards are written in (the manifest's
    /// `formatVersion`): `MixShardLayout.version` unless asked for another
    /// (`mixprep run --format-version`). A `prep.json` of mixshards ≤ 0.4 has none: 2.
    public var formatVersion: Int

    public init(identity: PrepIdentity, source: SourceInfo, pipeline: Pipeline, formatVersion: Int = Int(MixShardLayout.version)) {
        self.identity = identity
        self.source = source
        self.pipeline = pipeline
        self.formatVersion = formatVersion
    }

    enum CodingKeys: String, CodingKey { case identity, source, pipeline, formatVersion }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        identity = try c.decode(PrepIdentity.self, forKey: .identity)
        source = try c.decode(SourceInfo.self, forKey: .source)
        pipeline = try c.decode(Pipeline.self, forKey: .pipeline)
        formatVersion = try c.decodeIfPresent(Int.self, forKey: .formatVersion) ?? 2
    }

    public static func load(directory: String) throws -> RunState? {
        let path = directory + "/" + fileName
        guard FileIO.exists(path) else { return nil }
        let state: RunState
        do {
            state = try JSONDecoder().decode(RunState.self, from: Data(try FileIO.read(path, limit: Manifest.maxFileBytes, what: "a run state")))
        } catch let e as MixError {
            throw e
        } catch {
            throw MixError.file(path, "not a valid run state: \(MixError.describe(decoding: error))")
        }
        // `mixprep finalize` writes the manifest's source from it.
        if let problem = state.source.classNameProblem { throw MixError.file(path, problem) }
        if let problem = RunState.recordedVersionProblem(state.formatVersion) { throw MixError.file(path, problem) }
        if let problem = state.source.channelStatsProblem { throw MixError.file(path, problem) }
        return state
    }

    public func write(directory: String) throws {
        try FileIO.writeAtomically(directory + "/" + RunState.fileName, try Manifest.canonicalJSON(self))
    }

    /// Writes `DIR/prep.json` unless it exists (then returns false and leaves it alone):
    /// of several workers starting at once, exactly one creates it.
    public func create(directory: String) throws -> Bool {
        try FileIO.createAtomically(directory + "/" + RunState.fileName, try Manifest.canonicalJSON(self))
    }

    /// The keys in which `other` differs from `self`, for a helpful refusal.
    public func differences(from other: RunState) -> [String] {
        var out: [String] = []
        if identity.seed != other.identity.seed { out.append("seed \(other.identity.seed) vs \(identity.seed)") }
        if identity.augment != other.identity.augment { out.append("[augment]") }
        if identity.mix != other.identity.mix { out.append("[mix]") }
        if identity.shards != other.identity.shards { out.append("[shards]") }
        if identity.dataset != other.identity.dataset { out.append("[dataset] size, resize, classes or split") }
        if identity.trainLimit != other.identity.trainLimit || identity.testLimit != other.identity.testLimit {
            out.append("dataset limits")
        }
        if source.fingerprint != other.source.fingerprint { out.append("source data (fingerprint)") }
        if formatVersion != other.formatVersion { out.append("format version \(other.formatVersion) vs \(formatVersion)") }
        if let mine = source.channelStats, let theirs = other.source.channelStats, mine != theirs {
            out.append("source channel statistics (\(theirs.description) vs \(mine.description))")
        }
        return out
    }

    /// The versions `mixprep run` writes: the current one, and v2 for readers that predate
    /// v3 (v1 cannot record transforms, cutmix boxes or references).
    public static let writableVersions: ClosedRange<Int> = 2...Int(MixShardLayout.version)

    /// The version a run writes: v4 when its `[augment]` records ops (`AugmentConfig.recordsOps`),
    /// else the one requested (`--format-version`).
    public static func version(recordingOps: Bool, requested: Int) -> UInt16 {
        recordingOps ? MixShardLayout.opsVersion : UInt16(requested)
    }

    /// Why `version` is not one a `prep.json` may record (the writable ones and v4), or nil.
    public static func recordedVersionProblem(_ version: Int) -> String? {
        version == Int(MixShardLayout.opsVersion) ? nil : formatVersionProblem(version)
    }

    /// Why `version` is not one `mixprep run` writes, or nil.
    public static func formatVersionProblem(_ version: Int) -> String? {
        writableVersions.contains(version) ? nil
            : "formatVersion must be \(Wording.range(writableVersions.lowerBound, writableVersions.upperBound)) (got \(version))"
    }
}
