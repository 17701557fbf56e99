#!/bin/bash
# strongSwan 5.9 (charon + swanctl): the `consumer-config --for strongswan`
# snippet, loaded into a private charon, authenticates an IKEv2 SA with the
# enrolled certificate: file key, and the SoftHSM key through charon's pkcs11
# plugin by its hex CKA_ID (handle). One charon plays both ends (initiator
# 127.0.0.1 -> responder 127.0.0.2), inside a network and mount namespace of
# its own (private /run for its pid file, its own loopback for IKE and XFRM).
. "$top_srcdir/tests/realm/stack.sh"
. "$top_srcdir/tests/realm/softhsm.sh"
. "$top_srcdir/tests/realm/radius.sh"
need swanctl unshare ip
CHARON=/usr/lib/ipsec/charon
need "$CHARON"
stack_start
softhsm_init
daemon_config "file:$REALM/keys" "$(daemon_machine_profile token "$SOFTHSM_URI")"
daemon_start
testca_init
testca_issue vpn vpn.autoenroll.test --server

SS=$REALM/strongswan
mkdir -p "$SS"
export STRONGSWAN_CONF=$SS/strongswan.conf
cat >"$STRONGSWAN_CONF" <<CONF
charon {
	load_modular = no
	load = random nonce aes sha1 sha2 hmac kdf pem pkcs1 pkcs8 x509 pubkey gmp revocation constraints kernel-netlink socket-default vici pkcs11
	install_routes = no
	install_virtual_ip = no
	retransmit_tries = 2
	filelog {
		charon {
			path = $SS/charon.log
			default = 1
			ike = 2
			cfg = 2
		}
	}
	plugins {
		vici {
			socket = unix://$SS/charon.vici
		}
		pkcs11 {
			modules {
				softhsm {
					path = $SOFTHSM_MODULE
				}
			}
		}
	}
}
swanctl {
	socket = unix://$SS/charon.vici
}
CONF
# The gateway side, written by hand; the client side is the snippet.
cat >"$SS/gateway.conf" <<CONF
connections {
	gw {
		local_addrs = 127.0.0.2
		remote_addrs = 127.0.0.1
		local {
			auth = pubkey
			certs = $TESTCA/vpn.pem
			id = vpn.autoenroll.test
		}
		remote {
			auth = pubkey
			cacerts = $SCEP_CA_CERT
		}
		children {
			gw {
				local_ts = 127.0.0.2/32
			}
		}
	}
}
CONF
# swanctl loads private keys from the private/ directory beside its config.
mkdir -p "$SS/private"
cp "$TESTCA/vpn.key" "$SS/private/vpn.key"
realm_spawn charon unshare -m -n --propagation private \
    sh -c "mount -t tmpfs tmpfs /run && ip link set lo up && exec $CHARON"
wait_for 15 swanctl --stats || bail "charon did not start: $(tail -5 "$REALM/charon.log")"

# load_and_initiate NAME SNIPPET [PIN] : gateway + snippet into charon, then
# bring the snippet's connection up; 0 when its IKE_SA is ESTABLISHED (both
# ends authenticated by certificate). The CHILD_SA needs XFRM in the kernel,
# which a container may lack ("unable to add SAD entry"): not asserted.
load_and_initiate() {
    local name=$1 snippet=$2 pin=${3:-}
    {
        cat "$SS/gateway.conf"
        if [ -n "$pin" ]; then sed "s|# pin = .*|pin = $pin|" "$snippet"; else cat "$snippet"; fi
    } >"$SS/swanctl-$name.conf"
    chmod 600 "$SS/swanctl-$name.conf"
    swanctl --load-all --clear --file "$SS/swanctl-$name.conf" >"$SS/load-$name.log" 2>&1 || {
        cat "$SS/load-$name.log"
        return 1
    }
    timeout 30 swanctl --initiate --child "$name" --timeout 20 >"$SS/initiate-$name.log" 2>&1
    swanctl --list-sas --ike "$name" >"$SS/sas-$name.log" 2>&1
    grep -q "^$name: #[0-9]*, ESTABLISHED, IKEv2" "$SS/sas-$name.log"
}

ok "machine certificate (file key) enrolled" daemon_wait_state machine MONITORING 60
ok "consumer-config prints a swanctl snippet" \
    ae_to "$SS/machine.conf" consumer-config machine --for strongswan --server 127.0.0.2
diag "$(sed 's/^/    /' "$SS/machine.conf")"
# The snippet's own instruction for the file key, with this test's swanctl dir.
link=$(sed -n 's|^#   \(ln -sf .*\) /etc/swanctl/private/\(.*\)$|\1 '"$SS"'/private/\2|p' "$SS/machine.conf")
ok "the snippet says how to give swanctl the key" test -n "$link"
ok "link the key as the snippet says" $link
ok "IKEv2 with the enrolled certificate and file key" load_and_initiate autoenroll-machine "$SS/machine.conf"
ok "the gateway authenticated the machine's certificate" \
    grep -q "authentication of 'CN=$CLIENT_HOST' with RSA.* successful" "$SS/charon.log"
ok "and the machine authenticated the gateway" \
    grep -q "authentication of 'vpn.autoenroll.test' with RSA.* successful" "$SS/initiate-autoenroll-machine.log"
diag "charon: $(grep -E "authentication of .* successful|IKE_SA .* established" "$SS/initiate-autoenroll-machine.log" | tr '\n' '|')"
swanctl --terminate --ike autoenroll-machine >/dev/null 2>&1

ae_to /dev/null request token >/dev/null 2>&1
ok "machine certificate (SoftHSM key) enrolled" daemon_wait_state token MONITORING 60
ok "consumer-config prints a token snippet" \
    ae_to "$SS/token.conf" consumer-config token --for strongswan --server 127.0.0.2
diag "$(sed 's/^/    /' "$SS/token.conf")"
kid=$(ae_field token key_ref)
ok "the key and certificate are named by the key's CKA_ID" test "$(grep -c "handle = $kid" "$SS/token.conf")" = 2
ok "IKEv2 with the SoftHSM key via charon's pkcs11 plugin" \
    load_and_initiate autoenroll-token "$SS/token.conf" "$(cat "$SOFTHSM_PIN_FILE")"
ok "charon took the key from the token by its id" grep -q "loaded key token-autoenroll-token from token" "$SS/load-autoenroll-token.log"
ok "the gateway authenticated the token's certificate" \
    test "$(grep -c "authentication of 'CN=$CLIENT_HOST' with RSA.* successful" "$SS/charon.log")" = 2
rm -f "$SS"/swanctl-autoenroll-token.conf
