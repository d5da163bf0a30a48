package backing

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/convoy-ci/convoy/integration/internal/freeport"
)

// rabbitServer is the broker's start script in Debian's package (the one in /usr/sbin switches
// to the rabbitmq user).
const rabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// startRabbitMQ runs an Erlang port mapper of its own and a RabbitMQ node as the calling user,
// every file under s's directory and every port on loopback, and waits until an AMQP client
// can log in as guest.
func startRabbitMQ(ctx context.Context, s *Server, pick func() (int, error)) error {
	var ports [3]int // AMQP, Erlang distribution, epmd
	for i := range ports {
		p, err := pickPort(pick)
		if err != nil {
			return err
		}
		ports[i] = p
	}
	amqpPort, distPort, epmdPort := ports[0], ports[1], ports[2]
	conf := s.inDir("rabbitmq.conf")
	body := fmt.Sprintf("listeners.tcp.default = %s:%d\nloopback_users.guest = true\n", freeport.Host, amqpPort)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", conf, err)
	}
	for _, name := range []string{"enabled_plugins", "advanced.config"} {
		if err := os.WriteFile(s.inDir(name), []byte("[].\n"), 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	epmdEnv := []string{"ERL_EPMD_PORT=" + strconv.Itoa(epmdPort), "ERL_EPMD_ADDRESS=" + freeport.Host}
	// The node would start a daemon epmd that outlives it; one of convoy's, in the foreground, is
	// found instead and dies with the run.
	if _, err := s.run([]string{"epmd", "-port", strconv.Itoa(epmdPort), "-address", freeport.Host}, epmdEnv...); err != nil {
		return err
	}
	env := append(epmdEnv,
		"RUNNING_UNDER_SYSTEMD=true", // the script execs the VM: no shell between convoy and the node
		"RABBITMQ_NODENAME=convoy-"+strconv.Itoa(amqpPort)+"@localhost",
		"RABBITMQ_NODE_IP_ADDRESS="+freeport.Host,
		"RABBITMQ_NODE_PORT="+strconv.Itoa(amqpPort),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"RABBITMQ_CONFIG_FILE="+conf,
		"RABBITMQ_ADVANCED_CONFIG_FILE="+s.inDir("advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+s.inDir("enabled_plugins"),
		"RABBITMQ_MNESIA_BASE="+s.inDir("mnesia"),
		"RABBITMQ_LOG_BASE="+s.inDir("log"),
		"RABBITMQ_PID_FILE="+s.inDir("rabbitmq.pid"),
		"RABBITMQ_LOGS=-",
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
	)
	if err := os.MkdirAll(filepath.Join(s.dir, "log"), 0o700); err != nil {
		return err
	}
	p, err := s.run([]string{rabbitServer}, env...)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(freeport.Host, strconv.Itoa(amqpPort))
	s.port, s.url = amqpPort, "amqp://guest:guest@"+addr+"/%2F"
	return await(ctx, p, func(ctx context.Context) error {
		c, err := amqp.DialConfig(s.url, amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
		if err != nil {
			return err
		}
		return c.Close()
	})
}
