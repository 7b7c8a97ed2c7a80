import ArgumentParser
import Foundation
import TandemAPI

/// `tandem crds`: prints the CustomResourceDefinitions, or writes them into a folder.
struct CRDs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crds",
        abstract: "Print Tandem's CustomResourceDefinitions (generated from the Swift types).",
        discussion: "Install them with: tandem crds | kubectl apply -f -")

    @Option(name: .shortAndLong, help: "Write one file per CRD into this folder instead of printing them.")
    var output: String?

    @Option(help: "Write them as templates of the Helm chart into this folder (charts/tandem/templates/crds): behind the value crds.install, kept on uninstall with crds.keep.")
    var chartTemplates: String?

    func run() throws {
        if let chartTemplates {
            try FileManager.default.createDirectory(atPath: chartTemplates, withIntermediateDirectories: true)
            for crd in try CRDGenerator.all() {
                let path = (chartTemplates as NSString).appendingPathComponent(CRDGenerator.fileName(of: crd))
                try CRDGenerator.helmTemplate(crd).write(toFile: path, atomically: true, encoding: .utf8)
                FileHandle.standardError.write(Data("wrote \(path)\n".utf8))
            }
            return
        }
        for crd in try CRDGenerator.all() {
            let text = try CRDGenerator.yaml(crd)
            if let output {
                var isFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: output, isDirectory: &isFolder), !isFolder.boolValue {
                    throw ValidationError("--output \(output) is a file; give the folder to write the CRDs into (e.g. crds/), or print them without --output")
                }
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                let path = (output as NSString).appendingPathComponent(CRDGenerator.fileName(of: crd))
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                FileHandle.standardError.write(Data("wrote \(path)\n".utf8))
            } else {
                print(text, terminator: "")
            }
        }
    }
}
