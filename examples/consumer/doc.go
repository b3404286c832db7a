// Module consumer is a service that uses rotation the way a consuming
// repository does: its own go.mod, the rotation packages as a dependency, and
// tests that use only the public test kits (jwtkeystest, fieldcrypttest,
// pgroletest, paymenttest). The project's test script builds and tests it, so
// the kits stay usable from outside the module.
package consumer
