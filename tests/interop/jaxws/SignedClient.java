/*
 * A department's Java client of the platform, written against the classes two default
 * `wsimport` runs generate (JAX-WS RI 2.3) - the exchange service and the OASIS UDDI v3 inquiry
 * API - with its exchange calls signed by WssSigningHandler (WSS4J 1.6):
 *
 *   wsimport -keep -s src -d classes http://centre:8080/exchange?wsdl
 *   wsimport -keep -s src -d classes http://centre:8080/uddi/inquiry?wsdl
 *   javac -cp jaxws-rt.jar:wss4j.jar:xmlsec.jar:classes -d classes WssSigningHandler.java SignedClient.java
 *   GOVSHARE_P12_PASSWORD=... java -cp ...:classes SignedClient [--p12 dept.p12] http://centre:8080 \
 *       REQUESTER RESOURCE_CODE RESOURCE_NAME KEY...
 *
 * The two runs fill separate packages (local.govshare.* and org.uddi.api_v3 with
 * govshare.uddi_v3_service), so they share one folder.  The generated classes name the WSDLs
 * they were generated from; the client reads them from the platform it is given instead, and
 * sends to that platform's addresses (BindingProvider.ENDPOINT_ADDRESS_PROPERTY), so classes
 * generated once serve every platform that publishes the same contract.
 *
 * It asks the directory for the resource's service by name (find_service), then the exchange
 * for the records of KEY... (QueryRecords) and for every change from watermark 0 (GetChanges),
 * and prints:
 *
 *   serviceKey=uddi:gaj.govshare.local:resource:101001002-000001
 *   total=3
 *   more=false
 *   record=<Person xmlns="http://govshare.local/xsd/population/1.0"><idNumber>...</Person>
 *   change=upsert <Person xmlns="...">...</Person>
 *
 * With --p12 the exchange calls are signed with the key in that PKCS#12, whose password is in
 * the environment variable GOVSHARE_P12_PASSWORD.  A SOAP fault ends the run with status 2, the
 * fault string on stderr and on stdout its faultcode as written and, for the exchange's declared
 * fault, the code in its detail:
 *
 *   fault=wsse:InvalidSecurity
 *   exchangeFault=InvalidSecurity
 *
 * JAX-WS throws the declared fault as the generated ExchangeFault, which carries the detail but
 * not the faultcode: a handler (FaultCodes) reads that from the message.
 */

import java.io.PrintStream;
import java.io.StringWriter;
import java.net.URL;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;

import javax.xml.namespace.QName;
import javax.xml.soap.SOAPException;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerException;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Holder;
import javax.xml.ws.WebServiceException;
import javax.xml.ws.handler.Handler;
import javax.xml.ws.handler.MessageContext;
import javax.xml.ws.handler.soap.SOAPHandler;
import javax.xml.ws.handler.soap.SOAPMessageContext;
import javax.xml.ws.soap.SOAPFaultException;

import org.uddi.api_v3.FindService;
import org.uddi.api_v3.Name;
import org.uddi.api_v3.ServiceInfo;
import org.uddi.api_v3.ServiceList;
import org.w3c.dom.Element;

import govshare.uddi_v3_service.UDDIInquiryPortType;
import govshare.uddi_v3_service.UDDIInquiryService;
import local.govshare.exchange._1.ExchangeFault;
import local.govshare.exchange._1.ExchangePortType;
import local.govshare.exchange._1.ExchangeService;
import local.govshare.xsd.exchange._1.Change;
import local.govshare.xsd.exchange._1.Records;

public final class SignedClient {
    private static final String PASSWORD_VARIABLE = "GOVSHARE_P12_PASSWORD";

    private final PrintStream out;
    private final Transformer xml;

    private SignedClient(PrintStream out) throws TransformerException {
        this.out = out;
        this.xml = TransformerFactory.newInstance().newTransformer();
        this.xml.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
    }

    public static void main(String[] args) throws Exception {
        List<String> rest = new ArrayList<>(Arrays.asList(args));
        Handler<?> signer = null;
        if (!rest.isEmpty() && rest.get(0).equals("--p12")) {
            String password = System.getenv(PASSWORD_VARIABLE);
            if (password == null) {
                System.err.println("--p12 needs the PKCS#12's password in " + PASSWORD_VARIABLE);
                System.exit(1);
            }
            signer = WssSigningHandler.fromPkcs12(Paths.get(rest.get(1)), password);
            rest = rest.subList(2, rest.size());
        }
        if (rest.size() < 5) {
            System.err.println("usage: SignedClient [--p12 FILE] URL REQUESTER RESOURCE_CODE RESOURCE_NAME KEY...");
            System.exit(1);
        }
        String url = rest.get(0);
        String requester = rest.get(1);
        String resourceCode = rest.get(2);
        SignedClient client = new SignedClient(new PrintStream(System.out, true, "UTF-8"));
        FaultCodes faults = new FaultCodes();
        try {
            client.findService(url, rest.get(3));
            ExchangePortType exchange = exchange(url, signer, faults);
            client.queryRecords(exchange, requester, resourceCode, rest.subList(4, rest.size()));
            client.getChanges(exchange, requester, resourceCode);
        } catch (SOAPFaultException fault) {
            client.out.println("fault=" + written(fault.getFault().getFaultCodeAsQName()));
            System.err.println(fault.getFault().getFaultString());
            System.exit(2);
        } catch (ExchangeFault fault) {
            client.out.println("fault=" + written(faults.last));
            client.out.println("exchangeFault=" + fault.getFaultInfo().getCode());
            System.err.println(fault.getMessage());
            System.exit(2);
        }
    }

    private static ExchangePortType exchange(String url, Handler<?> signer, FaultCodes faults) throws Exception {
        ExchangePortType port = new ExchangeService(new URL(url + "/exchange?wsdl")).getExchangePort();
        BindingProvider binding = (BindingProvider) port;
        binding.getRequestContext().put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, url + "/exchange");
        @SuppressWarnings("rawtypes")
        List<Handler> chain = binding.getBinding().getHandlerChain();
        chain.add(faults);
        if (signer != null) {
            chain.add(signer);
        }
        binding.getBinding().setHandlerChain(chain);
        return port;
    }

    private static String written(QName code) {
        return code.getPrefix().isEmpty() ? code.getLocalPart() : code.getPrefix() + ":" + code.getLocalPart();
    }

    /** Keeps the faultcode of the last fault answered, which a declared fault's exception does not carry. */
    private static final class FaultCodes implements SOAPHandler<SOAPMessageContext> {
        private QName last;

        @Override
        public boolean handleFault(SOAPMessageContext context) {
            try {
                last = context.getMessage().getSOAPBody().getFault().getFaultCodeAsQName();
            } catch (SOAPException e) {
                throw new WebServiceException(e);
            }
            return true;
        }

        @Override
        public boolean handleMessage(SOAPMessageContext context) {
            return true;
        }

        @Override
        public Set<QName> getHeaders() {
            return Collections.emptySet();
        }

        @Override
        public void close(MessageContext context) {
        }
    }

    private void findService(String url, String resourceName) throws Exception {
        UDDIInquiryPortType inquiry = new UDDIInquiryService(new URL(url + "/uddi/inquiry?wsdl")).getUDDIInquiryPort();
        ((BindingProvider) inquiry).getRequestContext().put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY,
                                                            url + "/uddi/inquiry");
        FindService query = new FindService();
        Name name = new Name();
        name.setValue(resourceName);
        query.getName().add(name);
        ServiceList found = inquiry.findService(query);
        if (found.getServiceInfos() != null) {
            for (ServiceInfo service : found.getServiceInfos().getServiceInfo()) {
                out.println("serviceKey=" + service.getServiceKey());
            }
        }
    }

    private void queryRecords(ExchangePortType exchange, String requester, String resourceCode, List<String> keys)
            throws ExchangeFault, TransformerException {
        Holder<Integer> total = new Holder<>();
        Holder<Integer> pageOffset = new Holder<>();
        Holder<Boolean> more = new Holder<>();
        Holder<String> source = new Holder<>();
        Holder<Records> records = new Holder<>();
        exchange.queryRecords(requester, resourceCode, keys, null, null, null, null,
                              total, pageOffset, more, source, records);
        out.println("total=" + total.value);
        out.println("more=" + more.value);
        for (Object record : records.value.getAny()) {
            out.println("record=" + serialised(record));
        }
    }

    private void getChanges(ExchangePortType exchange, String requester, String resourceCode)
            throws ExchangeFault, TransformerException {
        Holder<Long> nextWatermark = new Holder<>();
        Holder<Boolean> more = new Holder<>();
        Holder<List<Change>> changes = new Holder<>();
        exchange.getChanges(requester, resourceCode, 0L, null, null, nextWatermark, more, changes);
        for (Change change : changes.value) {
            for (Object record : change.getRecord().getAny()) {
                out.println("change=" + change.getOperation() + " " + serialised(record));
            }
        }
    }

    /** A record of the lax xsd:any, which JAXB hands over as a DOM element, as one line of XML. */
    private String serialised(Object record) throws TransformerException {
        StringWriter text = new StringWriter();
        xml.transform(new DOMSource((Element) record), new StreamResult(text));
        return text.toString();
    }
}
