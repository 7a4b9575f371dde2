import Foundation
import MixCore
import NN
import Pipeline
import ShardStore
import TestSupport
import XCTest
@testable import Training

/// The training recipe (issue 20, item 3) in the trainer, its checkpoints, reports and `[train]` keys.
final class RecipeTrainingTests: XCTestCase {
    /// Cosine with one warm-up epoch, AdamW weight decay and an EMA.
    func recipeSettings(_ dir: String, run: String, epochs: Int = 3, resume: Bool = false, threads: Int = 2) -> TrainSettings {
        var t = Fixtures.tinyPipeline().train
        t.epochs = epochs
        t.lr = 2e-3
        t.lrSchedule = "cosine"
        t.warmupEpochs = 1
        t.minLR = 1e-4
        t.weightDecay = 0.05
        t.ema = 0.9
        return TrainSettings(shardDirectory: dir, runDirectory: run, train: t, pipelineName: "tiny", seed: 7,
                             threads: threads, resume: resume, quiet: true)
    }

    func assertSameState(_ a: Checkpoint, _ b: Checkpoint, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.parameters, b.parameters, file: file, line: line)
        XCTAssertEqual(a.adamM, b.adamM, file: file, line: line)
        XCTAssertEqual(a.adamV, b.adamV, file: file, line: line)
        XCTAssertEqual(a.ema, b.ema, file: file, line: line)
        XCTAssertEqual(a.header.adamStep, b.header.adamStep, file: file, line: line)
        XCTAssertEqual(a.header.metrics.map(\.trainLoss), b.header.metrics.map(\.trainLoss), file: file, line: line)
        XCTAssertEqual(a.header.metrics.map(\.testLoss), b.header.metrics.map(\.testLoss), file: file, line: line)
        XCTAssertEqual(a.header.metrics.map(\.testAccuracy), b.header.metrics.map(\.testAccuracy), file: file, line: line)
        XCTAssertEqual(a.header.metrics.map(\.lr), b.header.metrics.map(\.lr), file: file, line: line)
    }

    /// 1 and 2 threads give bit-identical weights, moments, EMA and metrics with the recipe on.
    func testRecipeIsThreadCountInvariant() throws {
        let dir = try Fixtures.shardDirectory()
        var ckpts: [Checkpoint] = []
        for threads in [1, 2] {
            let run = Fixtures.tempDirectory("recipe-threads\(threads)")
            _ = try Trainer.run(recipeSettings(dir, run: run, epochs: 2, threads: threads))
            ckpts.append(try Checkpoint.read(run + "/" + Checkpoint.fileName(epoch: 2)))
        }
        assertSameState(ckpts[0], ckpts[1])
        XCTAssertNotNil(ckpts[0].ema)
        XCTAssertNotEqual(ckpts[0].ema, ckpts[0].parameters)
    }

    /// Killed after epoch 1 (the end of the warm-up), resumed, killed after epoch 2, resumed to 3:
    /// the same bits as an uninterrupted run, EMA and step count included. (A kill is simulated
    /// by deleting the later checkpoints of a finished run: the cosine rate depends on
    /// train.epochs, so a shorter run is not an interrupted one.)
    func testResumeWithRecipeIsBitIdentical() throws {
        let dir = try Fixtures.shardDirectory()
        let straight = Fixtures.tempDirectory("recipe-straight")
        let full = try Trainer.run(recipeSettings(dir, run: straight, epochs: 3))
        let split = Fixtures.tempDirectory("recipe-split")
        _ = try Trainer.run(recipeSettings(dir, run: split, epochs: 3))
        for e in [2, 3] { FileIO.remove(split + "/" + Checkpoint.fileName(epoch: e)) }
        let once = try Trainer.run(recipeSettings(dir, run: split, epochs: 3, resume: true))
        XCTAssertEqual(once.resumedEpochs, 1)
        FileIO.remove(split + "/" + Checkpoint.fileName(epoch: 3))
        let resumed = try Trainer.run(recipeSettings(dir, run: split, epochs: 3, resume: true))
        XCTAssertEqual(resumed.resumedEpochs, 2)
        let a = try Checkpoint.read(split + "/checkpoint-003.ckpt"), b = try Checkpoint.read(straight + "/checkpoint-003.ckpt")
        assertSameState(a, b)
        XCTAssertEqual(a.header.adamStep, 18)  // 3 epochs × 6 batches of 50
        XCTAssertEqual(resumed.metrics.map(\.testAccuracy), full.metrics.map(\.testAccuracy))

        // The recorded rates are the schedule's at each epoch's last step (steps 5, 11, 17 of T = 18, W = 6).
        let s = LRSchedule.cosine(warmupEpochs: 1, minLR: 1e-4)
        XCTAssertEqual(full.metrics.map(\.lr), [5, 11, 17].map { s.rate(base: 2e-3, step: $0, stepsPerEpoch: 6, epochs: 3) })
        XCTAssertEqual(full.metrics[0].lr, 2e-3)
        XCTAssertEqual(full.metrics[1].lr!, 1e-4 + 1.9e-3 * (1 + cos(Double.pi * 5 / 12)) / 2, accuracy: 1e-15)

        // The version 3 file round-trips, and its accuracy is the EMA's: evaluating its EMA weights gives it.
        let bytes = try FileIO.read(straight + "/checkpoint-003.ckpt")
        XCTAssertEqual(Array(bytes[8..<12]), [3, 0, 0, 0])
        XCTAssertEqual(try Checkpoint.decode(try b.encoded(), path: "x.ckpt"), b)
        XCTAssertEqual(b.header.recipe?.ema, 0.9)
        XCTAssertEqual(b.header.recipe?.weightDecay, 0.05)
        let eval = try CheckpointEvaluation.run(checkpoint: straight + "/checkpoint-003.ckpt", shardDirectory: dir, threads: 1, quiet: true)
        XCTAssertTrue(eval.contains("weights: the EMA (decay 0.9)"), eval)
        XCTAssertTrue(eval.contains(String(format: "%.2f%%", 100 * full.metrics[2].testAccuracy)), eval)

        // Another recipe is refused on resume, naming the recipe.
        var other = recipeSettings(dir, run: split, epochs: 4, resume: true)
        other.train.ema = 0.99
        XCTAssertThrowsError(try Trainer.run(other)) { XCTAssertTrue("\($0)".contains("training recipe ("), "\($0)") }

        // A cosine run resumes only to its own number of epochs.
        XCTAssertThrowsError(try Trainer.run(recipeSettings(dir, run: split, epochs: 4, resume: true))) {
            XCTAssertTrue("\($0)".contains("epochs of the cosine schedule (3 vs 4"), "\($0)")
        }

        // A truncated EMA block is refused with one line.
        var cut = bytes
        cut.removeLast(36)
        cut += SHA256.hash(cut)
        XCTAssertThrowsError(try Checkpoint.decode(cut, path: "c.ckpt")) {
            XCTAssertTrue("\($0)".contains("moments and EMA"), "\($0)")
        }
    }

    /// The default recipe still writes a version 2 checkpoint and records lr = train.lr.
    func testDefaultRecipeWritesVersion2() throws {
        let dir = try Fixtures.shardDirectory()
        let run = Fixtures.tempDirectory("recipe-default")
        var s = recipeSettings(dir, run: run, epochs: 1)
        s.train = Fixtures.tinyPipeline().train
        s.train.epochs = 1
        let result = try Trainer.run(s)
        XCTAssertEqual(result.metrics.map(\.lr), [1e-3])
        let bytes = try FileIO.read(run + "/checkpoint-001.ckpt")
        XCTAssertEqual(Array(bytes[8..<12]), [2, 0, 0, 0])
        XCTAssertNil(try Checkpoint.read(run + "/checkpoint-001.ckpt").header.recipe)
        let report = String(decoding: try FileIO.read(run + "/report.md"), as: UTF8.self)
        XCTAssertTrue(report.contains("| recipe | constant lr 0.001, Adam (no weight decay), no EMA"), report)
        XCTAssertTrue(report.contains("| evaluated weights | the trained weights |"), report)
    }

    /// Weight decay and the step schedule change the numbers (each against the default run).
    func testStepScheduleAndWeightDecayChangeTraining() throws {
        let dir = try Fixtures.shardDirectory()
        func train(_ edit: (inout TrainSection) -> Void, _ name: String) throws -> Checkpoint {
            let run = Fixtures.tempDirectory(name)
            var s = recipeSettings(dir, run: run, epochs: 2)
            s.train = Fixtures.tinyPipeline().train
            s.train.epochs = 2
            edit(&s.train)
            _ = try Trainer.run(s)
            return try Checkpoint.read(run + "/checkpoint-002.ckpt")
        }
        let plain = try train({ _ in }, "recipe-plain")
        let stepped = try train({ $0.lrSchedule = "step"; $0.stepEpochs = 1; $0.stepGamma = 0.5 }, "recipe-step")
        XCTAssertEqual(stepped.header.metrics.map(\.lr), [1e-3, 5e-4])
        // Epoch 1 is identical (same rate), epoch 2 differs.
        XCTAssertEqual(stepped.header.metrics[0].trainLoss, plain.header.metrics[0].trainLoss)
        XCTAssertNotEqual(stepped.parameters, plain.parameters)
        let decayed = try train({ $0.weightDecay = 0.5 }, "recipe-wd")
        XCTAssertNotEqual(decayed.parameters, plain.parameters)
        XCTAssertNil(decayed.ema)
        // Decay shrinks the weights: a smaller sum of squares.
        XCTAssertLessThan(decayed.parameters.reduce(0) { $0 + Double($1 * $1) }, plain.parameters.reduce(0) { $0 + Double($1 * $1) })
    }

    /// `[train]` keys parse, and bad values are one-line errors naming the key.
    func testTrainKeysParseAndBadValuesNameTheKey() throws {
        let base = "[dataset]\npath = \"x\"\n[train]\nepochs = 5\n"
        let p = try Pipeline.parse(base + "lr_schedule = \"cosine\"\nwarmup_epochs = 2\nmin_lr = 1e-5\nweight_decay = 0.05\nema = 0.999\n",
                                   file: "f.toml")
        XCTAssertEqual(p.train.lrSchedule, "cosine")
        XCTAssertEqual(p.train.warmupEpochs, 2)
        XCTAssertEqual(p.train.minLR, 1e-5)
        XCTAssertEqual(p.train.weightDecay, 0.05)
        XCTAssertEqual(p.train.ema, 0.999)
        let s = try Pipeline.parse(base + "lr_schedule = \"step\"\nstep_epochs = 2\nstep_gamma = 0.5\n", file: "f.toml")
        XCTAssertEqual(s.train.schedule, .step(everyEpochs: 2, gamma: 0.5))
        // Round trip through JSON (manifest.json); the default recipe adds no key.
        XCTAssertEqual(try JSONDecoder().decode(TrainSection.self, from: JSONEncoder().encode(p.train)), p.train)
        let plain = String(decoding: try JSONEncoder().encode(TrainSection()), as: UTF8.self)
        let keys = (try JSONSerialization.jsonObject(with: Data(plain.utf8)) as! [String: Any]).keys.sorted()
        XCTAssertEqual(keys, ["batch", "beta1", "beta2", "epochs", "eps", "hidden", "lr", "widths"], plain)
        let json = String(decoding: try JSONEncoder().encode(p.train), as: UTF8.self)
        for key in ["\"lr_schedule\":\"cosine\"", "\"warmup_epochs\":2", "\"min_lr\":", "\"weight_decay\":0.05", "\"ema\":0.999"] {
            XCTAssertTrue(json.contains(key), json)
        }
        XCTAssertFalse(json.contains("step_epochs") || json.contains("step_gamma"), json)
        let cases: [(String, String)] = [
            ("lr_schedule = \"linear\"", "train.lr_schedule must be one of constant, cosine, step (got \"linear\")"),
            ("lr_schedule = \"cosine\"\nwarmup_epochs = 5", "train.warmup_epochs must be from 0 to 4"),
            ("warmup_epochs = 1", "train.warmup_epochs applies to lr_schedule = \"cosine\" only"),
            ("warmup_epochs = -1", "train.warmup_epochs must be"),
            ("min_lr = 0.5", "train.min_lr must be from 0 to train.lr"),
            ("step_epochs = 0", "train.step_epochs must be"),
            ("step_gamma = 1.5", "train.step_gamma must be in (0, 1]"),
            ("weight_decay = -0.1", "train.weight_decay must be ≥ 0"),
            ("weight_decay = 1000", "train.weight_decay × train.lr must be < 1"),
            ("ema = 1.0", "train.ema must be in [0, 1)"),
            ("ema = -0.5", "train.ema must be in [0, 1)"),
        ]
        for (line, message) in cases {
            XCTAssertThrowsError(try Pipeline.parse(base + line + "\n", file: "f.toml"), line) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(message), "\(line): \(text)")
                XCTAssertTrue(text.hasPrefix("f.toml: "), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
    }
}
