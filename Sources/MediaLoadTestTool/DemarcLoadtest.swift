import MediaLoadTest

/// `demarc-loadtest`: the same command as `demarc loadtest`, in a binary that links only the
/// media stack (a release build of it takes minutes, not the node's whole dependency tree).
@main
enum DemarcLoadtest {
    static func main() async {
        await LoadtestCommand.main()
    }
}
