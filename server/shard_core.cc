// ShardCore as admitd runs it: over the LMDB write-ahead log.
#include "server/shard_core_impl.h"

namespace admit::server {

template class ShardCore<storage::wal::ShardWal>;

}  // namespace admit::server
