'use strict';
// A department's Node.js client of govshare, written with node-soap (npm "soap") and nothing of
// govshare: clients made at run time from the published WSDLs, and - given a key and a
// certificate - WS-Security signing with node-soap's own WSSecurityCert.
//
// Usage: node client.js JOB.json
//   JOB.json: {"url": "http://127.0.0.1:PORT", "requester": "<统一社会信用代码>",
//              "resourceCode": "101001002/000001", "resourceName": "户籍人口基础信息",
//              "keys": ["330102..."], "key": "mzj.key", "cert": "mzj.pem"}   (key and cert: to sign)
//   With "defaultTransforms": true, WSSecurityCert signs with its defaults but for wsu:Id: the same
//   algorithms, with each reference transformed by enveloped-signature and then exc-c14n.
// Output, one JSON document on stdout:
//   {"serviceKeys": ["uddi:..."],
//    "query": {"total": 3, "more": false, "records": ["<Person ...>...</Person>", ...]},
//    "changes": [{"operation": "upsert", "record": "<Person ...>...</Person>"}, ...]}
// A SOAP fault ends the run with exit status 2 and, on stdout, what was done so far and
// "fault": {"code": "wsse:InvalidSecurity", "string": "..."}; anything else with status 1.
//
// The records arrive in an xsd:any slot, which node-soap turns into plain objects without their
// namespace ({Person: [{idNumber: ...}, ...]}): they are read from the raw response instead.

const fs = require('fs');
const soap = require('soap');
const { DOMParser, XMLSerializer } = require('@xmldom/xmldom');

const EX = 'http://govshare.local/xsd/exchange/1.0';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';

// What the platform requires (trust/wsse.py): RSA-SHA256 over the Body and the Timestamp, each
// reference transformed by exc-c14n alone and digested with SHA-256, the elements named by wsu:Id.
const SIGNING = {
  hasTimeStamp: true,
  signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  signatureTransformations: [EXC_C14N], // node-soap's default puts enveloped-signature first: refused by the platform
  signerOptions: { idMode: 'wssecurity' }, // wsu:Id, not xml-crypto's default unqualified Id
};

function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

// The element children of every ex:<name> in the raw response, each as a standalone XML string.
function anyContent(rawResponse, name) {
  const doc = new DOMParser().parseFromString(rawResponse, 'text/xml');
  const serializer = new XMLSerializer();
  return Array.from(doc.getElementsByTagNameNS(EX, name)).map((slot) =>
    Array.from(slot.childNodes).filter((n) => n.nodeType === 1).map((n) => serializer.serializeToString(n)));
}

async function main(job, out) {
  const inquiry = await soap.createClientAsync(`${job.url}/uddi/inquiry?wsdl`);
  const [found] = await inquiry.find_serviceAsync({ name: [{ $value: job.resourceName }] });
  out.serviceKeys = asList(found.serviceInfos && found.serviceInfos.serviceInfo).map((s) => s.attributes.serviceKey);

  const exchange = await soap.createClientAsync(`${job.url}/exchange?wsdl`);
  if (job.key && job.cert) {
    const options = job.defaultTransforms ? { signerOptions: SIGNING.signerOptions } : SIGNING;
    exchange.setSecurity(new soap.WSSecurityCert(fs.readFileSync(job.key), fs.readFileSync(job.cert), '', options));
  }
  const [answer, queryXml] = await exchange.QueryRecordsAsync({
    requester: job.requester, resourceCode: job.resourceCode, key: job.keys,
  });
  out.query = { total: Number(answer.total), more: answer.more === true || answer.more === 'true',
    records: anyContent(queryXml, 'records')[0] };

  const [changes, changesXml] = await exchange.GetChangesAsync({
    requester: job.requester, resourceCode: job.resourceCode, watermark: 0,
  });
  const records = anyContent(changesXml, 'record');
  out.changes = asList(changes.change).map((c, i) => ({ operation: c.operation, record: records[i][0] }));
}

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = {};
main(job, out).then(
  () => process.stdout.write(JSON.stringify(out)),
  (err) => {
    const fault = err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
    if (!fault) {
      process.stderr.write(`${err.stack || err}\n`);
      process.exit(1);
    }
    out.fault = { code: fault.faultcode, string: fault.faultstring };
    process.stdout.write(JSON.stringify(out));
    process.exit(2);
  },
);
