import NN

/// Training-step throughput of the seed CNN (NN's `benchmarkTrainSteps`).
public enum TrainBenchmark {
    /// Images per second of `steps` timed training steps of the default seed CNN.
    public static func run(batch: Int = 128, steps: Int = 20, threads: Int = 2, config: CNNConfig = CNNConfig(),
                           microBatch: Int = SeedCNN.defaultMicroBatch) -> Double {
        benchmarkTrainSteps(config: config, batch: batch, steps: steps, threads: threads, microBatch: microBatch)
    }

    /// Like `run`, with CPU seconds per step of each phase (summed over threads).
    public static func profile(batch: Int = 128, steps: Int = 20, threads: Int = 2, config: CNNConfig = CNNConfig(),
                               microBatch: Int = SeedCNN.defaultMicroBatch)
        -> (imagesPerSecond: Double, phases: [(name: String, secondsPerStep: Double)])
    {
        benchmarkProfile(config: config, batch: batch, steps: steps, threads: threads, microBatch: microBatch)
    }

    /// Throws when the benchmark's network would not fit in memory (`MemoryBudget`):
    /// a large `--micro-batch` times many threads can ask for more than the machine has.
    public static func checkMemory(batch: Int, threads: Int, config: CNNConfig = CNNConfig(),
                                   microBatch: Int = SeedCNN.defaultMicroBatch) throws {
        let microBatches = (batch + microBatch - 1) / microBatch
        try MemoryBudget.check(config, microBatch: microBatch, workers: min(threads, microBatches), training: true, context: "bench")
    }
}
