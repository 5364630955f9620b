import Foundation
import NodeConfiguration
import Residency
import Testing

/// The Kubernetes manifests under `Deploy/kubernetes/`: well-formed objects, and every
/// StatefulSet (one per region) has what a Demarc node needs — region pinning, host
/// networking for UDP media, health probes on the node's HTTP port, a drain-length grace
/// period, least privilege, a PodDisruptionBudget, a headless gossip Service, and a
/// node.yaml template that parses with `NodeConfig.parse` for every pod it renders.
@Suite struct DeployManifestTests {
    typealias Object = [String: Any]

    struct Manifest {
        var file: String
        var object: Object
        var kind: String { (object as Any?)["kind"].text ?? "" }
        var name: String { (object as Any?)["metadata"]["name"].text ?? "" }
    }

    static let folder = "Deploy/kubernetes"
    static let regionLabels = ["demarc.io/region", "topology.kubernetes.io/region"]
    /// What `render-config` substitutes: the pod's name and the pod's (host's) IP.
    static let nodeIDPlaceholder = "__NODE_ID__", podIPPlaceholder = "__POD_IP__"

    static func manifests() throws -> [Manifest] {
        var all: [Manifest] = []
        for file in DeployFiles.yamlFiles(under: folder) {
            for document in try DeployFiles.documents(file) {
                all.append(Manifest(file: file, object: (document as? Object) ?? [:]))
            }
        }
        return all
    }

    @Test func everyManifestIsAKubernetesObject() throws {
        let all = try Self.manifests()
        #expect(all.count >= 5, "expected the namespace, the gossip Service and three regions")
        for m in all {
            let o = m.object as Any?
            #expect(o["apiVersion"].text?.isEmpty == false, "\(m.file): a document without apiVersion")
            #expect(!m.kind.isEmpty, "\(m.file): a document without kind")
            if m.kind == "Kustomization" { continue }
            #expect(!m.name.isEmpty, "\(m.file): \(m.kind) without metadata.name")
            if m.kind != "Namespace" {
                #expect(o["metadata"]["namespace"].text == "demarc", "\(m.file): \(m.kind) \(m.name) is not in namespace demarc")
            }
        }
        let names = all.map { "\($0.kind)/\($0.name)" }
        #expect(Set(names).count == names.count, "duplicate objects: \(names)")
    }

    @Test func theKustomizationListsEveryManifest() throws {
        let files = DeployFiles.yamlFiles(under: Self.folder).map { URL(fileURLWithPath: $0).lastPathComponent }
        let kustomization = try DeployFiles.documents("\(Self.folder)/kustomization.yaml").first as Any?
        let listed = kustomization["resources"].list.compactMap { ($0 as Any?).text }
        #expect(Set(listed) == Set(files.filter { $0 != "kustomization.yaml" }), "kustomization.yaml resources: \(listed), files: \(files)")
    }

    @Test func everyStatefulSetIsADeployableDemarcRegion() throws {
        let all = try Self.manifests()
        let sets = all.filter { $0.kind == "StatefulSet" }
        #expect(sets.count >= 3, "one StatefulSet per region of Topologies/europe.yaml")
        var regions: Set<String> = []
        for m in sets {
            let region = try #require(checkStatefulSet(m, all: all), "\(m.file): StatefulSet \(m.name)")
            #expect(regions.insert(region).inserted, "two StatefulSets pin region \(region)")
        }
    }

    /// Checks one StatefulSet; returns the region it pins.
    func checkStatefulSet(_ m: Manifest, all: [Manifest]) -> String? {
        let subject = "\(m.file): StatefulSet \(m.name)"
        let spec = m.object["spec"] as Any?
        let template = spec["template"]
        let pod = template["spec"]
        let labels = template["metadata"]["labels"].mapping ?? [:]

        // Region pinning: a required node affinity on a region label, matching the pod's region label.
        let region = (labels["demarc.io/region"] as Any?).text
        #expect(region != nil, "\(subject): pods carry no demarc.io/region label")
        let terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].list
        #expect(!terms.isEmpty, "\(subject): no required node affinity")
        for term in terms {
            let pins = (term as Any?)["matchExpressions"].list.contains { e in
                let e = e as Any?
                return Self.regionLabels.contains(e["key"].text ?? "") && e["operator"].text == "In"
                    && !e["values"].list.isEmpty
                    && (e["key"].text != "demarc.io/region" || e["values"].list.compactMap { ($0 as Any?).text } == [region ?? ""])
            }
            #expect(pins, "\(subject): a node selector term does not pin the region")
        }
        // One node per host (they share the host's ports).
        let antiAffinity = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"].list
        #expect(antiAffinity.contains { ($0 as Any?)["topologyKey"].text == "kubernetes.io/hostname" }, "\(subject): no one-per-host anti-affinity")

        // UDP media on the host's address.
        #expect((pod["hostNetwork"] as? Bool) == true, "\(subject): hostNetwork must be true (UDP media)")
        #expect(pod["dnsPolicy"].text == "ClusterFirstWithHostNet", "\(subject): with hostNetwork, dnsPolicy ClusterFirstWithHostNet")

        // Least privilege.
        #expect((pod["securityContext"]["runAsNonRoot"] as? Bool) == true, "\(subject): runAsNonRoot")
        let containers = pod["containers"].list + pod["initContainers"].list
        let images = Set(containers.compactMap { ($0 as Any?)["image"].text })
        #expect(images.count == 1, "\(subject): the init container renders the config with the node's own image, so an upgrade changes both: \(images.sorted())")
        for c in containers {
            let c = c as Any?, name = c["name"].text ?? "?"
            let sc = c["securityContext"]
            #expect((sc["readOnlyRootFilesystem"] as? Bool) == true, "\(subject): container \(name) readOnlyRootFilesystem")
            #expect((sc["allowPrivilegeEscalation"] as? Bool) == false, "\(subject): container \(name) allowPrivilegeEscalation false")
            #expect(sc["capabilities"]["drop"].list.compactMap { ($0 as Any?).text } == ["ALL"], "\(subject): container \(name) drops ALL capabilities")
            #expect(c["resources"]["requests"]["cpu"] != nil && c["resources"]["requests"]["memory"] != nil, "\(subject): container \(name) resource requests")
        }

        // The node container: probes, drain, metrics.
        guard let nodeContainer = pod["containers"].list.first(where: { ($0 as Any?)["name"].text == "node" }) else {
            Issue.record("\(subject): no container named node")
            return region
        }
        let node: Any? = nodeContainer
        var portByName: [String: Int] = [:]
        for p in node["ports"].list { if let n = (p as Any?)["name"].text, let v = (p as Any?)["containerPort"].int { portByName[n] = v } }
        func probePort(_ probe: Any?) -> Int? {
            let port = probe["httpGet"]["port"]
            return port.int ?? port.text.flatMap { portByName[$0] }
        }
        #expect(node["livenessProbe"]["httpGet"]["path"].text == "/healthz", "\(subject): liveness on /healthz")
        #expect(node["readinessProbe"]["httpGet"]["path"].text == "/readyz", "\(subject): readiness on /readyz")
        let httpPort = probePort(node["readinessProbe"])
        #expect(httpPort != nil && probePort(node["livenessProbe"]) == httpPort, "\(subject): probes on the http port")
        let preStopSeconds = node["lifecycle"]["preStop"]["sleep"]["seconds"].int ?? 0
        let grace = pod["terminationGracePeriodSeconds"].int ?? 30
        // The drain waits at most 20 s (DemarcNode's DrainService), then HTTP stops and gossip leaves (≤ 2 s): keep 30 s after preStop.
        #expect(grace >= 30 + preStopSeconds, "\(subject): terminationGracePeriodSeconds \(grace) leaves less than 30 s for the drain after preStop")
        let annotations = template["metadata"]["annotations"]
        #expect(annotations["prometheus.io/scrape"].text == "true", "\(subject): prometheus.io/scrape annotation")
        #expect(annotations["prometheus.io/port"].int == httpPort, "\(subject): prometheus.io/port is the http port")
        #expect(annotations["prometheus.io/path"].text == "/metrics", "\(subject): prometheus.io/path")

        // A PodDisruptionBudget for this region: maxUnavailable 1, selecting these pods.
        let budgets = all.filter { b in
            guard b.kind == "PodDisruptionBudget" else { return false }
            let selector = (b.object["spec"] as Any?)["selector"]["matchLabels"].mapping ?? [:]
            return !selector.isEmpty && selector.allSatisfy { k, v in (labels[k] as Any?).text == (v as Any?).text }
        }
        #expect(budgets.count == 1, "\(subject): \(budgets.count) PodDisruptionBudgets select its pods, expected 1")
        for b in budgets { #expect((b.object["spec"] as Any?)["maxUnavailable"].int == 1, "\(b.file): maxUnavailable 1") }

        // The gossip seeds Service: headless, publishing not-ready pods, UDP and TCP.
        let serviceName = spec["serviceName"].text ?? ""
        let service = all.first { $0.kind == "Service" && $0.name == serviceName }?.object as Any?
        #expect(service != nil, "\(subject): serviceName '\(serviceName)' names no Service")
        #expect(service["spec"]["clusterIP"].text == "None", "\(subject): Service \(serviceName) must be headless")
        #expect((service["spec"]["publishNotReadyAddresses"] as? Bool) == true, "\(subject): Service \(serviceName) publishNotReadyAddresses")
        let protocols = Set(service["spec"]["ports"].list.compactMap { ($0 as Any?)["protocol"].text })
        #expect(protocols == ["UDP", "TCP"], "\(subject): gossip is UDP and TCP")

        // The node.yaml template, rendered for every pod, parses, and agrees with the pod.
        checkNodeConfig(m, all: all, region: region, httpPort: httpPort, node: node, gossipService: serviceName)
        return region
    }

    func checkNodeConfig(_ m: Manifest, all: [Manifest], region: String?, httpPort: Int?, node: Any?, gossipService: String) {
        let subject = "\(m.file): StatefulSet \(m.name)"
        let spec = m.object["spec"] as Any?
        let pod = spec["template"]["spec"]
        let volumes = pod["volumes"].list
        func volume(_ name: String) -> Any? { volumes.first { ($0 as Any?)["name"].text == name } }

        guard let configMapName = volume("template")["configMap"]["name"].text,
              let configMap = all.first(where: { $0.kind == "ConfigMap" && $0.name == configMapName }),
              let template = (configMap.object["data"] as Any?)["node.yaml"].text else {
            Issue.record("\(subject): no ConfigMap with a node.yaml behind its 'template' volume")
            return
        }
        #expect(template.contains(Self.nodeIDPlaceholder) && template.contains(Self.podIPPlaceholder), "\(subject): the template has no placeholders")
        let render: Any? = pod["initContainers"].list.first { ($0 as Any?)["name"].text == "render-config" }
        let script = render["command"].list.compactMap { ($0 as Any?).text }.joined(separator: " ")
        #expect(script.contains(Self.nodeIDPlaceholder) && script.contains(Self.podIPPlaceholder), "\(subject): render-config does not substitute both placeholders")
        #expect(node["args"].list.compactMap { ($0 as Any?).text }.contains("/run/demarc/node.yaml"), "\(subject): the node does not read the rendered config")

        let start = spec["ordinals"]["start"].int ?? 0
        let replicas = spec["replicas"].int ?? 1
        let mounts = node["volumeMounts"].list.compactMap { ($0 as Any?)["mountPath"].text }
        let identityPaths = Set(volume("node-identity")["projected"]["sources"].list.flatMap { ($0 as Any?)["secret"]["items"].list.compactMap { ($0 as Any?)["path"].text } })
        let identityMount = node["volumeMounts"].list.first { ($0 as Any?)["name"].text == "node-identity" }.flatMap { ($0 as Any?)["mountPath"].text } ?? "?"
        let pods = Self.podNames(all)

        // render-config writes an IPv6 pod IP in brackets; both forms must parse.
        let renderings = (start..<(start + replicas)).flatMap { ordinal in
            ["10.0.0.\(ordinal)", "[fd00::\(ordinal)]"].map { (pod: "\(m.name)-\(ordinal)", ip: $0) }
        }
        for (podName, ip) in renderings {
            let text = template.replacingOccurrences(of: Self.nodeIDPlaceholder, with: podName)
                .replacingOccurrences(of: Self.podIPPlaceholder, with: ip)
            let file = "\(configMap.file) (ConfigMap \(configMapName), node.yaml for pod \(podName) at \(ip))"
            let config: NodeConfig
            do { config = try NodeConfig.parse(text, file: file) } catch {
                Issue.record("\(file) does not parse:\n\(error.errors.map { "  \($0)" }.joined(separator: "\n"))")
                continue
            }
            #expect(config.node.id == podName)
            #expect(config.gossip.advertise.host == ip.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), "\(file): advertise is not the pod IP")
            #expect(config.node.region == region, "\(file): region \(config.node.region), pods pinned to \(region ?? "?")")
            #expect(config.http.bind.port == httpPort, "\(file): http.bind port \(config.http.bind.port), probes on \(httpPort ?? 0)")
            #expect(config.gossip.bind.port == 7946)
            // Every file the node reads is on a mounted volume.
            var paths = [config.node.keyPath, config.node.certificatePath, config.gossip.keyringPath, config.tokens.issuerKeyPath]
            paths += config.trust.operatorKeyPaths
            if case let .sqlite(path) = config.store { paths.append(path) }
            for path in paths {
                #expect(mounts.contains { path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }, "\(file): \(path) is on no volume of the node container")
            }
            // Both catalogs named explicitly: in the image (/usr/share/demarc, README) or on a mounted volume.
            for (field, path) in [("trust.jurisdictions", config.trust.jurisdictionsPath), ("trust.regions", config.trust.regionsPath)] {
                let p = path ?? ""
                #expect(p.hasPrefix("/usr/share/demarc/") || mounts.contains { p.hasPrefix($0 + "/") },
                        "\(file): \(field) must name the catalog in the image (/usr/share/demarc/) or on a volume, not rely on the search path")
            }
            // The media port the node announces is a declared UDP host port.
            if let media = config.media {
                let declared = node["ports"].list.contains { ($0 as Any?)["containerPort"].int == media.bind.port && ($0 as Any?)["protocol"].text == "UDP" }
                #expect(declared, "\(file): media.bind port \(media.bind.port) is not a declared UDP container port")
            }
            // This pod's own key and certificate are in the node-identity volume.
            for path in [config.node.keyPath, config.node.certificatePath] {
                let relative = path.hasPrefix(identityMount + "/") ? String(path.dropFirst(identityMount.count + 1)) : path
                #expect(identityPaths.contains(relative), "\(file): \(path) is not provided by the node-identity volume (add Secret demarc-node-\(podName))")
            }
            // Seeds name pods that exist, through the headless Service.
            for seed in config.gossip.seeds {
                let parts = seed.host.split(separator: ".", maxSplits: 2).map(String.init)
                #expect(parts.count == 3 && parts[1] == gossipService && pods.contains(parts[0]) && parts[2] == "demarc.svc.cluster.local",
                        "\(file): seed \(seed) is not <pod>.\(gossipService).demarc.svc.cluster.local of an existing pod")
                #expect(seed.port == 7946)
            }
            #expect(config.gossip.seeds.count >= 2, "\(file): fewer than two seeds")
        }
    }

    /// Every pod name the StatefulSets create (name-ordinal).
    static func podNames(_ all: [Manifest]) -> Set<String> {
        var names: Set<String> = []
        for s in all where s.kind == "StatefulSet" {
            let spec = s.object["spec"] as Any?
            let start = spec["ordinals"]["start"].int ?? 0
            for i in start..<(start + (spec["replicas"].int ?? 1)) { names.insert("\(s.name)-\(i)") }
        }
        return names
    }
}
