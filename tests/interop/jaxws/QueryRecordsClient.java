/*
 * A department's Java client of the exchange service, written against the classes a default
 * `wsimport URL/exchange?wsdl` generates (JAX-WS RI 2.3, wrapper style: each field of the
 * request is a parameter, each field of the response a Holder):
 *
 *   wsimport -keep -s src -d classes http://centre:8080/exchange?wsdl
 *   javac -cp jaxws-rt.jar:classes -d classes QueryRecordsClient.java
 *   java -cp jaxws-rt.jar:classes QueryRecordsClient http://centre:8080/exchange?wsdl REQUESTER RESOURCE OFFSET KEY...
 *
 * It asks QueryRecords for the records of KEY... from OFFSET on and prints the answer, one field
 * a line, each record as one line of XML:
 *
 *   total=3
 *   pageOffset=1
 *   more=false
 *   source=central
 *   record=<Person xmlns="http://govshare.local/xsd/population/1.0"><idNumber>...</Person>
 *
 * An ExchangeFault is printed with its code on stderr, exit status 2.
 */

import java.io.PrintStream;
import java.io.StringWriter;
import java.net.URL;
import java.util.Arrays;
import java.util.List;

import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import javax.xml.ws.Holder;

import org.w3c.dom.Element;

import local.govshare.exchange._1.ExchangeFault;
import local.govshare.exchange._1.ExchangePortType;
import local.govshare.exchange._1.ExchangeService;
import local.govshare.xsd.exchange._1.Records;

public final class QueryRecordsClient {
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        ExchangePortType port = new ExchangeService(new URL(args[0])).getExchangePort();
        List<String> keys = Arrays.asList(args).subList(4, args.length);
        Holder<Integer> total = new Holder<>();
        Holder<Integer> pageOffset = new Holder<>();
        Holder<Boolean> more = new Holder<>();
        Holder<String> source = new Holder<>();
        Holder<Records> records = new Holder<>();
        try {
            port.queryRecords(args[1], args[2], keys, null, Integer.valueOf(args[3]), null, null,
                              total, pageOffset, more, source, records);
        } catch (ExchangeFault fault) {
            System.err.println("ExchangeFault " + fault.getFaultInfo().getCode() + ": " + fault.getMessage());
            System.exit(2);
        }
        out.println("total=" + total.value);
        out.println("pageOffset=" + pageOffset.value);
        out.println("more=" + more.value);
        out.println("source=" + source.value);
        Transformer xml = TransformerFactory.newInstance().newTransformer();
        xml.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
        for (Object record : records.value.getAny()) {  // lax xsd:any: each record is a DOM element
            StringWriter text = new StringWriter();
            xml.transform(new DOMSource((Element) record), new StreamResult(text));
            out.println("record=" + text);
        }
    }
}
