package backing

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/convoy-ci/convoy/integration/internal/freeport"
)

// redisConfig keeps Redis on loopback, in its directory, with nothing persisted.
const redisConfig = `bind %s
port %d
protected-mode yes
daemonize no
dir %s
save ""
appendonly no
logfile ""
`

// startRedis runs redis-server with a configuration of its own and waits until it answers PING.
func startRedis(ctx context.Context, s *Server, pick func() (int, error)) error {
	port, err := pickPort(pick)
	if err != nil {
		return err
	}
	conf := s.inDir("redis.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, redisConfig, freeport.Host, port, s.dir), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", conf, err)
	}
	p, err := s.run([]string{"redis-server", conf})
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(freeport.Host, strconv.Itoa(port))
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DisableIdentity: true})
	defer client.Close()
	s.port, s.url = port, "redis://"+addr+"/0"
	return await(ctx, p, func(ctx context.Context) error { return client.Ping(ctx).Err() })
}
