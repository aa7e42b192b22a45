// The registry of peers: what `--peers` runs. The peer sources are compiled only with CONVKIT_PEERS=ON.
#include "convkit/error.h"
#include "peer.h"

namespace convkit::cli {

#if CONVKIT_PEERS
std::unique_ptr<Peer> make_onednn_peer();
std::unique_ptr<Peer> make_xnnpack_peer();

bool peers_built() { return true; }

std::vector<std::unique_ptr<Peer>> make_peers() {
  std::vector<std::unique_ptr<Peer>> peers;
  peers.push_back(make_onednn_peer());
  peers.push_back(make_xnnpack_peer());
  return peers;
}
#else
bool peers_built() { return false; }

std::vector<std::unique_ptr<Peer>> make_peers() {
  fail("--peers: this convkit was built without the peer libraries; configure with -DCONVKIT_PEERS=ON ",
       "(needs the Debian packages libdnnl-dev, libxnnpack-dev and libpthreadpool-dev; `make bench` does both)");
}
#endif

}  // namespace convkit::cli
