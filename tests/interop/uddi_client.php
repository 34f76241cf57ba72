<?php
// A legacy PHP client: loads a govshare WSDL with SoapClient and calls one operation.
// Usage: php uddi_client.php inquiry|diagnostics BASE_URL ; prints JSON.
[$_, $which, $base] = $argv;
$options = ["trace" => 1, "exceptions" => true, "cache_wsdl" => WSDL_CACHE_NONE];
try {
    if ($which === "inquiry") {
        $c = new SoapClient("$base/uddi/inquiry?wsdl", $options);
        $r = $c->find_tModel([
            "maxRows" => 3,
            "findQualifiers" => ["findQualifier" => ["approximateMatch"]],
            "name" => ["_" => "govshare:%"],
        ]);
        $keys = array_map(fn($i) => $i->tModelKey, (array)$r->tModelInfos->tModelInfo);
        $fault = null;
        try {
            $c->get_serviceDetail(["serviceKey" => ["uddi:no.such:key"]]);
        } catch (SoapFault $f) {
            // SoapClient reads the untyped detail without attributes: the errCode is in faultstring.
            $fault = ["faultcode" => $f->faultcode, "faultstring" => $f->faultstring,
                      "errInfo" => $f->detail->dispositionReport->result->errInfo];
        }
        echo json_encode(["keys" => $keys, "actualCount" => $r->listDescription->actualCount, "fault" => $fault]);
    } else {
        $c = new SoapClient("$base/diagnostics?wsdl", $options);
        $r = $c->Echo(["text" => "人口基础信息"]);
        echo json_encode(["echo" => $r->EchoResult]);
    }
} catch (Throwable $e) {
    fwrite(STDERR, get_class($e) . ": " . $e->getMessage() . "\n");
    exit(1);
}
