import Foundation

/// What the end-to-end tests share: where the package and its embedded data
/// are, and how to run a built executable.
public enum TestSupport {
    /// The package root (this file is `Tests/TestSupport/TestSupport.swift`).
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.standardized.path
    }()

    /// The embedded CIFAR-10 subset.
    public static var miniCIFAR: String { packageRoot + "/data/cifar10-mini" }

    /// The built executable `name`, looked up next to the test bundle (the same
    /// build directory), falling back to `.build/debug`.
    public static func executable(_ name: String) -> String {
        var candidates: [URL] = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
        candidates.append(Bundle.main.bundleURL)
        for dir in candidates {
            var d = dir
            for _ in 0..<4 {
                let path = d.appendingPathComponent(name).path
                if FileManager.default.isExecutableFile(atPath: path) { return path }
                d.deleteLastPathComponent()
            }
        }
        return packageRoot + "/.build/debug/" + name
    }

    /// Runs `executable` with `args` (and extra environment); returns its exit status and output.
    public static func run(_ executable: String, _ args: [String], env: [String: String] = [:]) throws
        -> (status: Int32, out: String, err: String)
    {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

extension TestSupport {
    /// What `runMeasuringMemory` saw: exit status (or 128 + signal), output, and
    /// the child's peak resident set size in bytes.
    public struct MeasuredRun {
        public var status: Int32
        public var out: String
        public var err: String
        public var peakRSSBytes: Int
        public var peakRSSMiB: Double { Double(peakRSSBytes) / 1_048_576 }
    }

    /// Forks and execs argv[3:] with stdout/stderr to argv[1], argv[2]; prints the
    /// child's peak RSS (KiB) and exit code.
    static let measuringScript = """
        import os, resource, sys
        out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        pid = os.fork()
        if pid == 0:
            os.dup2(out, 1); os.dup2(err, 2)
            os.execv(sys.argv[3], sys.argv[3:])
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code if code >= 0 else 128 - code)
        """

    /// Runs `executable` with `args` and measures its peak memory (`ru_maxrss`).
    ///
    /// Through a small python3 process that forks it: Linux carries the high-water
    /// mark of the memory a process was spawned from across `exec`, so a child
    /// spawned straight from this (large, multi-test) process would report at
    /// least this process's peak. Through python the floor is python's own few MiB
    /// (`testMeasuringFloor` shows it).
    public static func runMeasuringMemory(_ executable: String, _ args: [String]) throws -> MeasuredRun {
        let tmp = NSTemporaryDirectory() + "measured-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let outPath = tmp + ".out", errPath = tmp + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        let r = try run("/usr/bin/env", ["python3", "-c", measuringScript, outPath, errPath, executable] + args)
        let fields = r.out.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard r.status == 0, fields.count == 2 else {
            throw NSError(domain: "runMeasuringMemory", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.err])
        }
        func text(_ path: String) -> String {
            String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        return MeasuredRun(status: Int32(fields[1]), out: text(outPath), err: text(errPath), peakRSSBytes: fields[0] * 1024)
    }
}

/// Small deterministic generator for test data (SplitMix64), free of MixCore so that
/// the Kernels tests need nothing but Kernels.
public struct TestRNG {
    public var state: UInt64
    public init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    public mutating func float() -> Float { Float(Double(next() >> 11) * 0x1.0p-53 * 2 - 1) }
    public mutating func floats(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in float() * scale } }
    public mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }
    /// `rows` one-hot rows of width `k`, optionally blended (mixup-like) with a second class.
    public mutating func softTargets(rows: Int, k: Int, blend: Bool = true) -> [Float] {
        var y = [Float](repeating: 0, count: rows * k)
        for r in 0..<rows {
            let a = int(below: k), b = int(below: k)
            let lam: Float = blend ? 0.5 + 0.5 * abs(float()) : 1
            y[r * k + a] += lam
            y[r * k + b] += 1 - lam
        }
        return y
    }
}
