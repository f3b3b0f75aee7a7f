// Replaces lego's generated providers/dns/zz_gen_dns_providers.go at build time (go build -overlay,
// see tools/build.sh): that file links in every DNS provider's cloud SDK, several of which the Go
// module proxy does not serve. Traefik calls only this factory, for ACME DNS-01 challenges, which
// the test harness never uses (its certificates come from a test CA in a Secret).
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName refuses every provider: this build has none.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("ACME DNS-01 provider %q is not built into this Traefik (tools/traefik)", name)
}
