// Independent implementation of the VNPay, MoMo and ZaloPay signing rules,
// used once to derive the pinned vectors in payment/*/vectors_test.go:
//   node payment/testdata/crosscheck.js
// It shares no code with the Go packages: PHP urlencode is rebuilt from
// encodeURIComponent, HMACs come from node's crypto.
'use strict';
const crypto = require('crypto');
const hmac = (alg, key, msg) => crypto.createHmac(alg, Buffer.from(key, 'utf8')).update(Buffer.from(msg, 'utf8')).digest('hex');

// PHP urlencode: RFC 3986 encodeURIComponent, then also ! ' ( ) * ~ escaped,
// and space as "+".
function phpUrlencode(s) {
  return encodeURIComponent(s)
    .replace(/[!'()*~]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}
function vnpHashData(params) {
  return Object.keys(params)
    .filter(k => k.startsWith('vnp_') && k !== 'vnp_SecureHash' && k !== 'vnp_SecureHashType' && params[k] !== '')
    .sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))))
    .map(k => phpUrlencode(k) + '=' + phpUrlencode(params[k]))
    .join('&');
}
const out = {};
const VNP_SECRET = 'DEMOSECRETKEY0123456789ABCDEFGHI';
const vnp1 = {
  vnp_Version: '2.1.0', vnp_Command: 'pay', vnp_TmnCode: 'DEMOV210', vnp_Amount: '1806000', vnp_CurrCode: 'VND',
  vnp_TxnRef: '5', vnp_OrderInfo: 'Thanh toan don hang :5', vnp_OrderType: 'other', vnp_Locale: 'vn',
  vnp_ReturnUrl: 'https://domainmerchant.vn/ReturnUrl', vnp_IpAddr: '127.0.0.1',
  vnp_CreateDate: '20210801153333', vnp_ExpireDate: '20210801154833',
};
const vnp2 = Object.assign({}, vnp1, {
  vnp_TxnRef: 'ĐH-2026/11~27', vnp_OrderInfo: "Thanh toán đơn hàng ~*!'() &=+%/?# Việt Nam",
  vnp_BankCode: 'NCB',
});
for (const [name, p] of [['vnpay_pay', vnp1], ['vnpay_pay_special', vnp2]]) {
  const d = vnpHashData(p);
  out[name] = { hashData: d, sig: hmac('sha512', VNP_SECRET, d) };
}
const ipn = {
  vnp_Amount: '1806000', vnp_BankCode: 'NCB', vnp_BankTranNo: 'VNP14422574', vnp_CardType: 'ATM',
  vnp_OrderInfo: "Thanh toán đơn hàng ~*!'() &=", vnp_PayDate: '20210801153500', vnp_ResponseCode: '00',
  vnp_TmnCode: 'DEMOV210', vnp_TransactionNo: '14422574', vnp_TransactionStatus: '00', vnp_TxnRef: '5',
};
out.vnpay_ipn = { hashData: vnpHashData(ipn), sig: hmac('sha512', VNP_SECRET, vnpHashData(ipn)) };
const qdr = ['REQ-1', '2.1.0', 'querydr', 'DEMOV210', '5', '20210801153333', '20210802090000', '10.0.0.1', 'Truy van GD 5'].join('|');
out.vnpay_querydr = { hashData: qdr, sig: hmac('sha512', VNP_SECRET, qdr) };
const rf = ['REQ-2', '2.1.0', 'refund', 'DEMOV210', '02', '5', '1806000', '14422574', '20210801153333', 'admin', '20210802090000', '10.0.0.1', 'Hoan tien GD 5'].join('|');
out.vnpay_refund = { hashData: rf, sig: hmac('sha512', VNP_SECRET, rf) };
const qdrResp = ['RESP-1', 'querydr', '00', 'QueryDR Success', 'DEMOV210', '5', '1806000', 'NCB', '20210801153500', '14422574', '01', '00', 'Thanh toan don hang :5', '', ''].join('|');
out.vnpay_querydr_response = { hashData: qdrResp, sig: hmac('sha512', VNP_SECRET, qdrResp) };
const rfResp = ['RESP-2', 'refund', '00', 'Refund success', 'DEMOV210', '5', '1806000', 'NCB', '20210802090100', '14422575', '02', '05', 'Hoan tien GD 5'].join('|');
out.vnpay_refund_response = { hashData: rfResp, sig: hmac('sha512', VNP_SECRET, rfResp) };

// MoMo AIO v2, sandbox keys published in momo-wallet/payment nodejs/MoMo.js.
const MOMO_ACCESS = 'F8BBA842ECF85', MOMO_SECRET = 'K951B6PE1waDMi640xX08PD3vg6EkVlz';
const raw = (pairs) => pairs.map(([k, v]) => k + '=' + v).join('&');
const create = raw([['accessKey', MOMO_ACCESS], ['amount', 50000], ['extraData', ''], ['ipnUrl', 'https://callback.url/notify'],
  ['orderId', 'MOMO1700000000000'], ['orderInfo', 'pay with MoMo'], ['partnerCode', 'MOMO'], ['redirectUrl', 'https://momo.vn/return'],
  ['requestId', 'MOMO1700000000000'], ['requestType', 'captureWallet']]);
out.momo_create = { raw: create, sig: hmac('sha256', MOMO_SECRET, create) };
const momoIPN = raw([['accessKey', MOMO_ACCESS], ['amount', 50000000], ['extraData', 'eyJ1c2VybmFtZSI6ICJtb21vIn0='], ['message', 'Thành công.'],
  ['orderId', 'ĐH-42'], ['orderInfo', "Thanh toán đơn hàng ~*!'() &="], ['orderType', 'momo_wallet'], ['partnerCode', 'MOMO'],
  ['payType', 'qr'], ['requestId', 'REQ-42'], ['responseTime', 1721720663942], ['resultCode', 0], ['transId', 4088878653]]);
out.momo_ipn = { raw: momoIPN, sig: hmac('sha256', MOMO_SECRET, momoIPN) };
const momoQuery = raw([['accessKey', MOMO_ACCESS], ['orderId', 'ĐH-42'], ['partnerCode', 'MOMO'], ['requestId', 'REQ-43']]);
out.momo_query = { raw: momoQuery, sig: hmac('sha256', MOMO_SECRET, momoQuery) };
const momoRefund = raw([['accessKey', MOMO_ACCESS], ['amount', 20000], ['description', 'Hoàn tiền một phần'], ['orderId', 'RF-42'],
  ['partnerCode', 'MOMO'], ['requestId', 'REQ-44'], ['transId', 4088878653]]);
out.momo_refund = { raw: momoRefund, sig: hmac('sha256', MOMO_SECRET, momoRefund) };

// ZaloPay v2, sandbox app 2553 keys (public samples).
const ZP_KEY1 = 'PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL';
const zpCreate = ['2553', '240101_123456', 'user123', '50000', '1704067200000',
  '{"redirecturl":"https://example.vn/ré?a=1&b=~*"}', '[{"itemid":"knb","itemname":"kim nguyên bảo","itemprice":198400,"itemquantity":1}]'].join('|');
out.zalopay_create = { data: zpCreate, mac: hmac('sha256', ZP_KEY1, zpCreate) };
const zpQuery = ['2553', '240101_123456', ZP_KEY1].join('|');
out.zalopay_query = { mac: hmac('sha256', ZP_KEY1, zpQuery) };
const zpRefund = ['2553', '240101000000175', '20000', 'Hoàn tiền đơn 240101_123456', '1704070800000'].join('|');
out.zalopay_refund = { data: zpRefund, mac: hmac('sha256', ZP_KEY1, zpRefund) };
const zpQR = ['2553', '240101_2553_rf1', '1704070900000'].join('|');
out.zalopay_query_refund = { data: zpQR, mac: hmac('sha256', ZP_KEY1, zpQR) };
const ZP_KEY2 = 'kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz';
const zpRedirect = ['2553', '240101_123456', '38', 'zalopayapp', '50000', '0', '1'].join('|');
out.zalopay_redirect = { data: zpRedirect, mac: hmac('sha256', ZP_KEY2, zpRedirect) };
console.log(JSON.stringify(out, null, 1));
