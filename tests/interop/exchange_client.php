<?php
// A legacy PHP department client of the exchange service (/exchange?wsdl), using SoapClient.
// For each resource of a job it submits a batch document as it is (SoapVar XSD_ANYXML, so the
// records keep the bytes their digest was computed over), queries the records back by key and
// reads the changes since watermark 0; it prints what it got as JSON.
//
// Usage: php exchange_client.php JOB.json
//   JOB.json: {"url": "http://127.0.0.1:PORT", "requester": "<credit code>",
//              "resources": [{"resourceCode": "101001002/000001", "batchFile": "/tmp/b.xml",
//                             "keys": ["330102..."]}, ...]}
// Output: {"<resourceCode>": {"receipt": {...},
//          "query": {"total": N, "pageOffset": 0, "records": "<Person .../>..."},
//          "changes": [{"key": "...", "operation": "upsert", "record": "<Person .../>"}, ...]}, ...}
// A SoapFault ends the run with its code and ExchangeFault detail on stderr and exit status 2.

$job = json_decode(file_get_contents($argv[1]), true, 16, JSON_THROW_ON_ERROR);
$options = ["trace" => 1, "exceptions" => true, "cache_wsdl" => WSDL_CACHE_NONE];

// SoapClient maps a single repeated element to an object and several to an array.
function as_list($value): array {
    return $value === null ? [] : (is_array($value) ? $value : [$value]);
}

try {
    $client = new SoapClient($job["url"] . "/exchange?wsdl", $options);
    $out = [];
    foreach ($job["resources"] as $resource) {
        $code = $resource["resourceCode"];
        $batch = preg_replace('/^<\?xml[^>]*\?>\s*/', '', file_get_contents($resource["batchFile"]));
        $submitted = $client->SubmitBatch(["Batch" => new SoapVar($batch, XSD_ANYXML)]);
        $query = $client->QueryRecords([
            "requester" => $job["requester"], "resourceCode" => $code, "key" => $resource["keys"],
        ]);
        $changes = $client->GetChanges([
            "requester" => $job["requester"], "resourceCode" => $code, "watermark" => 0, "maxRecords" => 100,
        ]);
        $out[$code] = [
            "receipt" => $submitted->receipt,
            "query" => [
                "total" => $query->total, "pageOffset" => $query->pageOffset,
                "records" => $query->records->any ?? "",
            ],
            "changes" => array_map(
                fn($c) => ["key" => $c->key, "operation" => $c->operation, "record" => $c->record->any ?? ""],
                as_list($changes->change ?? null)
            ),
        ];
    }
    echo json_encode($out, JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
} catch (SoapFault $f) {
    $detail = $f->detail->ExchangeFault ?? null;
    fwrite(STDERR, "SoapFault {$f->faultcode}: {$f->faultstring}"
        . ($detail ? " [{$detail->code}] {$detail->message}" : "") . "\n");
    exit(2);
} catch (Throwable $e) {
    fwrite(STDERR, get_class($e) . ": " . $e->getMessage() . "\n");
    exit(1);
}
