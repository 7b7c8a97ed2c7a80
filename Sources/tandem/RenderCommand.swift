import ArgumentParser
import Foundation
import Rendering
import Routing
import Sizing
import TandemAPI

/// `tandem render`: the children of pools, without a cluster.
struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the objects Tandem would create for pools (tiers, and the router of a scheduler block), without a cluster.",
        discussion: """
            Exits 1 with the reasons on stderr when a pool is invalid or a tier cannot fit, so a GitOps \
            pipeline can run it before merging. Children of the tiers that can run are still printed. \
            With a scheduler block: llm-d's endpoint picker (ServiceAccount, Role, RoleBinding, ConfigMap \
            with its EndpointPickerConfig, Service, Deployment), the routing sidecar in decode pods and \
            the Gateway API Inference Extension's InferencePool.
            """)

    @Option(name: .shortAndLong, help: "A manifest with one or more InferencePools ('-' reads stdin).")
    var file: String

    @Option(help: "Size for this accelerator when a pool names none (no cluster to infer it from).")
    var accelerator: String?

    @Option(help: "Namespace for pools that name none.")
    var namespace: String = "default"

    @Option(help: "Kubernetes version of the target cluster, major.minor: 1.29 and newer run the routing sidecar as a native sidecar, 1.24 and newer probe the endpoint picker over gRPC. Default: 1.20, the oldest the chart supports (a plain sidecar container, TCP probes).")
    var kubernetesVersion: String = "1.20"

    @Option(help: "apiVersion of the EndpointPickerConfig (\(EndpointPickerConfig.knownAPIVersions.joined(separator: ", "))).")
    var eppConfigApiVersion: String = EndpointPickerConfig.defaultAPIVersion

    @Flag(help: "Render as for a cluster without the Gateway API Inference Extension (no GIE InferencePool).")
    var withoutInferenceExtension = false

    func run() throws {
        let text: String
        if file == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        let pools: [InferencePool]
        do {
            pools = try Manifest.pools(from: text)
        } catch {
            throw CLIFailure("\(file): \(error)")
        }
        if let accelerator, AcceleratorCatalog.builtIn.accelerator(named: accelerator) == nil {
            throw ValidationError("unknown accelerator \(accelerator); known: \(AcceleratorCatalog.builtIn.accelerators.map(\.name).joined(separator: ", "))")
        }
        let version = kubernetesVersion.split(separator: ".").compactMap { Int($0) }
        guard version.count == 2 else { throw ValidationError("--kubernetes-version must be major.minor, e.g. 1.29") }
        let options = RouterOptions(serverMajor: version[0], minor: version[1], gatewayAPIServed: !withoutInferenceExtension,
                                    configAPIVersion: eppConfigApiVersion)
        var problems: [String] = []
        var output = ""
        for var pool in pools {
            let name = pool.metadata.name ?? "<unnamed>"
            if pool.metadata.namespace == nil { pool.metadata.namespace = namespace }
            if let accelerator, pool.spec?.accelerator == nil { pool.spec?.accelerator = accelerator }
            let errors = pool.spec?.validate() ?? []
            if !errors.isEmpty {
                problems += errors.map { "\(name): invalid: \($0)" }
                continue
            }
            let plan = PoolPlanner().plan(pool)
            for warning in plan.warnings { FileHandle.standardError.write(Data("\(name): warning: \(warning.reason): \(warning.message)\n".utf8)) }
            problems += plan.problems.map { "\(name): \($0.tier.rawValue) tier not rolled out: \($0.reason): \($0.message)" }
            if plan.prefillHeld { problems.append("\(name): prefill held at 0 replicas until the decode tier can run") }
            if case .failure(let problem)? = plan.router {
                problems.append("\(name): router not deployed: \(problem.reason): \(problem.message)")
            }
            output += try YAMLOutput.children(
                Renderer.render(pool: pool, plans: plan.plans, owner: nil, router: plan.routerPlan, options: options))
        }
        print(output, terminator: "")
        if !problems.isEmpty {
            FileHandle.standardError.write(Data((problems.joined(separator: "\n") + "\n").utf8))
            throw ExitCode(1)
        }
    }
}

/// A failure whose message is the whole story (printed without a usage banner).
struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
