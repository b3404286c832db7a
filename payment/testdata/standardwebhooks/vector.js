// Signs one message with the Standard Webhooks reference library (npm
// standardwebhooks 1.0.0, pinned in package.json) and a secret in the form
// `rotate keygen webhook` prints (whsec_ + base64 of the key bytes). The
// output is pinned in payment/webhook/vectors_test.go.
//   cd payment/testdata/standardwebhooks && npm ci && node vector.js
'use strict';
const { Webhook } = require('standardwebhooks');
const secret = 'whsec_' + Buffer.from('rotation-cross-check-key-of-48-bytes-0123456789').toString('base64');
const sig = new Webhook(secret).sign('msg_rotation_1', new Date(1764662400 * 1000), '{"amount":500000,"memo":"CK don hang 42"}');
console.log(JSON.stringify({ secret, sig }));
