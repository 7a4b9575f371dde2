import MixCore

/// One image file of a dataset: its path relative to the dataset's folder and its class.
public struct ImageFile: Sendable, Equatable {
    public var path: String
    public var label: Int32

    public init(path: String, label: Int32) {
        self.path = path
        self.label = label
    }
}

/// A dataset of image files, listed but not yet read: what a folder or CSV layout gives.
public struct FileListing: Sendable {
    /// A short name for reports (the folder's name).
    public var name: String
    /// The dataset's folder; every `ImageFile.path` is relative to it.
    public var root: String
    /// How the layout was recognised, for the run's first line (e.g. `class folders train/ + val/`).
    public var layout: String
    public var classNames: [String]
    public var train: [ImageFile]
    public var test: [ImageFile]
    /// Files skipped while listing (not images, hidden), one line each.
    public var warnings: [String] = []

    public init(name: String, root: String, layout: String, classNames: [String], train: [ImageFile], test: [ImageFile]) {
        self.name = name
        self.root = root
        self.layout = layout
        self.classNames = classNames
        self.train = train
        self.test = test
    }
}

/// What a pipeline's `[dataset]` says about listing files.
public struct ListingOptions: Sendable, Equatable {
    /// `classes = [...]`: the class names in label order; nil: sorted as text.
    public var classes: [String]?
    /// `test_fraction`: for a single folder of classes, the fraction of each class held out as the test split.
    public var testFraction: Double?
    /// `split_seed`: the seed of that held-out split (independent of the pipeline's seed, so every trial tests on the same images).
    public var splitSeed: UInt64 = 0

    public init(classes: [String]? = nil, testFraction: Double? = nil, splitSeed: UInt64 = 0) {
        self.classes = classes
        self.testFraction = testFraction
        self.splitSeed = splitSeed
    }
}

/// Limits of a listing.
public enum ListingLimits {
    /// The most classes a dataset may have: the shard format's limit (`MixShardLayout.maxClasses`).
    public static let maxClasses = 65_535
}

extension String {
    /// Orders strings as Python's `sorted` does (by code point, which is UTF-8 byte
    /// order): torchvision's order of classes and files.
    static func codePointOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

extension FileListing {
    /// The class names in label order: `options.classes` when given (every name in
    /// `found` must be among them, and every one of them found), else `found` sorted as text.
    /// `what` names where the classes come from in errors.
    static func classOrder(found: Set<String>, options: ListingOptions, root: String, what: String) throws -> [String] {
        guard found.count <= ListingLimits.maxClasses else {
            throw MixError.file(root, "\(found.count) classes; the shard format holds at most \(ListingLimits.maxClasses)")
        }
        for name in found.sorted(by: String.codePointOrder) {
            if let problem = ClassNames.problem(name) { throw MixError.file(root, "\(what) \(problem)") }
        }
        let names: [String]
        if let given = options.classes {
            if let unknown = found.sorted(by: String.codePointOrder).first(where: { !given.contains($0) }) {
                throw MixError.file(root, "\(what) \(String(reflecting: unknown)) is not among dataset.classes")
            }
            if let missing = given.first(where: { !found.contains($0) }) {
                throw MixError.file(root, "dataset.classes names \(String(reflecting: missing)), which has no training images")
            }
            names = given
        } else {
            names = found.sorted(by: String.codePointOrder)
        }
        guard !names.isEmpty else { throw MixError.file(root, "no classes found") }
        return names
    }

    /// Holds out `fraction` of every class of `files` as a test split, seeded: class c
    /// with n files gives `min(n − 1, round(n·fraction))` of them (ties away from zero),
    /// the first ones of a Fisher–Yates shuffle of its files drawn from the Philox stream
    /// keyed by (`seed`, stream split, epoch c). Both parts keep the listing order.
    static func stratifiedSplit(_ files: [ImageFile], classCount: Int, fraction: Double, seed: UInt64)
        -> (train: [ImageFile], test: [ImageFile]) {
        var byClass = [[Int]](repeating: [], count: classCount)
        for (i, f) in files.enumerated() { byClass[Int(f.label)].append(i) }
        var isTest = [Bool](repeating: false, count: files.count)
        for (c, members) in byClass.enumerated() where members.count > 1 {
            let n = members.count
            let take = min(n - 1, Int((Double(n) * fraction).rounded(.toNearestOrAwayFromZero)))
            var rng = CounterRNG(seed: seed, stream: .split, epoch: UInt32(c))
            var order = members
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, rng.uniformInt(below: i + 1)) }
            for i in order.prefix(take) { isTest[i] = true }
        }
        var train: [ImageFile] = [], test: [ImageFile] = []
        for (i, f) in files.enumerated() {
            if isTest[i] { test.append(f) } else { train.append(f) }
        }
        return (train, test)
    }
}
