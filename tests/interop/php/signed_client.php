<?php
// A PHP department's client of the platform, SoapClient from the published WSDLs, signing its
// exchange calls with WS-Security the way PHP departments do without xmlseclibs (not in Debian):
// DOM, exclusive C14N and openssl_sign. It finds the resource's service on /uddi/inquiry, queries
// records by key and reads the changes since watermark 0 on /exchange, and prints what it got.
//
// Usage: php signed_client.php JOB.json
//   JOB.json: {"url": "http://127.0.0.1:PORT", "requester": "<credit code>", "name": "<resource name>",
//              "resourceCode": "101001002/000001", "keys": ["330102..."],
//              "key": "/path/key.pem", "cert": "/path/cert.pem"}   (key and cert: sign; leave out: unsigned)
// Output: {"serviceKeys": ["uddi:..."], "query": {"total": 3, "more": false, "records": ["<Person .../>", ...]},
//          "changes": [{"operation": "upsert", "record": "<Person .../>"}, ...]}
// A SoapFault ends the run with exit status 2, its faultcode on the first line of stderr and its
// faultstring on the second.
//
// A signed request carries, in its SOAP Header (what trust/wsse.py verifies):
//   <wsse:Security SOAP-ENV:mustUnderstand="1">
//     <wsse:BinarySecurityToken wsu:Id="X509-…" ValueType="…#X509v3" EncodingType="…#Base64Binary">MII…
//     <wsu:Timestamp wsu:Id="TS-…"><wsu:Created>…Z</wsu:Created><wsu:Expires>…Z</wsu:Expires></wsu:Timestamp>
//     <ds:Signature> SignedInfo: exc-c14n, rsa-sha256; References #Body-… and #TS-… (exc-c14n, sha256);
//                    KeyInfo: wsse:SecurityTokenReference/wsse:Reference URI="#X509-…" </ds:Signature>
//   </wsse:Security>
// and the SOAP Body carries wsu:Id="Body-…".

const WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const DS_NS = "http://www.w3.org/2000/09/xmldsig#";
const X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
const BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";
const EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
const RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256";
const LIFETIME = 300;  // seconds a signed request is valid for (the platform takes at most 900)

/** SoapClient signing every request it sends: the Body and a fresh Timestamp, with the certificate as token. */
final class SignedSoapClient extends SoapClient
{
    private OpenSSLAsymmetricKey $key;
    private string $token;  // the certificate's DER, base64

    public function __construct(string $wsdl, array $options, string $keyPem, string $certPem)
    {
        parent::__construct($wsdl, $options);
        $this->key = openssl_pkey_get_private($keyPem) ?: throw new RuntimeException("cannot read the private key");
        openssl_x509_export(openssl_x509_read($certPem), $pem) ?: throw new RuntimeException("cannot read the certificate");
        $this->token = preg_replace('/-----[^-]+-----|\s+/', '', $pem);
    }

    public function __doRequest(string $request, string $location, string $action, int $version,
                                bool $oneWay = false): ?string
    {
        return parent::__doRequest($this->sign($request), $location, $action, $version, $oneWay);
    }

    private function sign(string $request): string
    {
        $doc = new DOMDocument();
        $doc->loadXML($request);
        $envelope = $doc->documentElement;
        $soap = $envelope->namespaceURI;
        $body = $doc->getElementsByTagNameNS($soap, "Body")->item(0);
        $header = $doc->getElementsByTagNameNS($soap, "Header")->item(0);
        if ($header === null) {
            $header = $envelope->insertBefore($doc->createElementNS($soap, "{$envelope->prefix}:Header"), $body);
        }
        $ids = bin2hex(random_bytes(8));

        $security = $header->appendChild($doc->createElementNS(WSSE_NS, "wsse:Security"));
        $security->setAttributeNS($soap, "{$envelope->prefix}:mustUnderstand", "1");
        $token = $security->appendChild($doc->createElementNS(WSSE_NS, "wsse:BinarySecurityToken", $this->token));
        $token->setAttribute("ValueType", X509V3);
        $token->setAttribute("EncodingType", BASE64);
        $token->setAttributeNS(WSU_NS, "wsu:Id", "X509-$ids");

        $timestamp = $security->appendChild($doc->createElementNS(WSU_NS, "wsu:Timestamp"));
        $timestamp->setAttributeNS(WSU_NS, "wsu:Id", "TS-$ids");
        $now = time();
        $timestamp->appendChild($doc->createElementNS(WSU_NS, "wsu:Created", gmdate("Y-m-d\TH:i:s\Z", $now)));
        $timestamp->appendChild($doc->createElementNS(WSU_NS, "wsu:Expires", gmdate("Y-m-d\TH:i:s\Z", $now + LIFETIME)));
        $body->setAttributeNS(WSU_NS, "wsu:Id", "Body-$ids");

        $signature = $security->appendChild($doc->createElementNS(DS_NS, "ds:Signature"));
        $info = $signature->appendChild($doc->createElementNS(DS_NS, "ds:SignedInfo"));
        $info->appendChild($doc->createElementNS(DS_NS, "ds:CanonicalizationMethod"))->setAttribute("Algorithm", EXC_C14N);
        $info->appendChild($doc->createElementNS(DS_NS, "ds:SignatureMethod"))->setAttribute("Algorithm", RSA_SHA256);
        foreach (["Body-$ids" => $body, "TS-$ids" => $timestamp] as $id => $target) {
            $reference = $info->appendChild($doc->createElementNS(DS_NS, "ds:Reference"));
            $reference->setAttribute("URI", "#$id");
            $transforms = $reference->appendChild($doc->createElementNS(DS_NS, "ds:Transforms"));
            $transforms->appendChild($doc->createElementNS(DS_NS, "ds:Transform"))->setAttribute("Algorithm", EXC_C14N);
            $reference->appendChild($doc->createElementNS(DS_NS, "ds:DigestMethod"))->setAttribute("Algorithm", SHA256);
            // C14N(exclusive: true, with comments: false)
            $digest = base64_encode(hash("sha256", $target->C14N(true, false), true));
            $reference->appendChild($doc->createElementNS(DS_NS, "ds:DigestValue", $digest));
        }
        openssl_sign($info->C14N(true, false), $value, $this->key, OPENSSL_ALGO_SHA256)
            ?: throw new RuntimeException("openssl_sign: " . openssl_error_string());
        $signature->appendChild($doc->createElementNS(DS_NS, "ds:SignatureValue", base64_encode($value)));
        $reference = $signature->appendChild($doc->createElementNS(DS_NS, "ds:KeyInfo"))
            ->appendChild($doc->createElementNS(WSSE_NS, "wsse:SecurityTokenReference"))
            ->appendChild($doc->createElementNS(WSSE_NS, "wsse:Reference"));
        $reference->setAttribute("URI", "#X509-$ids");
        $reference->setAttribute("ValueType", X509V3);
        return $doc->saveXML();
    }
}

// SoapClient maps a single repeated element to an object and several to an array.
function as_list($value): array
{
    return $value === null ? [] : (is_array($value) ? $value : [$value]);
}

// SoapClient hands xsd:any content over as one XML string: the records, one after another.
function records(?string $any): array
{
    if ($any === null || trim($any) === "") {
        return [];
    }
    $doc = new DOMDocument();
    $doc->loadXML("<records>$any</records>");
    $out = [];
    foreach ($doc->documentElement->childNodes as $node) {
        if ($node instanceof DOMElement) {
            $out[] = $doc->saveXML($node);
        }
    }
    return $out;
}

$job = json_decode(file_get_contents($argv[1]), true, 16, JSON_THROW_ON_ERROR);
$options = ["trace" => 1, "exceptions" => true, "cache_wsdl" => WSDL_CACHE_NONE];

try {
    $inquiry = new SoapClient("{$job['url']}/uddi/inquiry?wsdl", $options);
    $found = $inquiry->find_service(["name" => [["_" => $job["name"]]]]);
    $services = as_list($found->serviceInfos->serviceInfo ?? null);

    $exchange = isset($job["key"])
        ? new SignedSoapClient("{$job['url']}/exchange?wsdl", $options,
                               file_get_contents($job["key"]), file_get_contents($job["cert"]))
        : new SoapClient("{$job['url']}/exchange?wsdl", $options);
    $query = $exchange->QueryRecords([
        "requester" => $job["requester"], "resourceCode" => $job["resourceCode"], "key" => $job["keys"],
    ]);
    $changes = $exchange->GetChanges([
        "requester" => $job["requester"], "resourceCode" => $job["resourceCode"], "watermark" => 0,
    ]);
    echo json_encode([
        "serviceKeys" => array_map(fn($s) => $s->serviceKey, $services),
        "query" => ["total" => $query->total, "more" => $query->more, "records" => records($query->records->any ?? null)],
        "changes" => array_map(
            fn($c) => ["operation" => $c->operation, "record" => records($c->record->any ?? null)[0] ?? null],
            as_list($changes->change ?? null)
        ),
    ], JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
} catch (SoapFault $f) {
    fwrite(STDERR, "{$f->faultcode}\n{$f->faultstring}\n");
    exit(2);
} catch (Throwable $e) {
    fwrite(STDERR, get_class($e) . ": " . $e->getMessage() . "\n");
    exit(1);
}
