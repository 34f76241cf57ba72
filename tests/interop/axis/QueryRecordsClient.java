/*
 * A department's Java client of the exchange service on Apache Axis 1.4 (JAX-RPC), written
 * against the classes `WSDL2Java URL/exchange?wsdl` generates (wrapped document/literal: each
 * field of the request is a parameter, each field of the response a javax.xml.rpc Holder):
 *
 *   java -cp <axis jars> org.apache.axis.wsdl.WSDL2Java -o src http://centre:8080/exchange?wsdl
 *   javac -cp <axis jars> -d classes src/.../*.java QueryRecordsClient.java
 *   java -cp <axis jars>:classes QueryRecordsClient http://centre:8080/exchange REQUESTER RESOURCE OFFSET KEY...
 *
 * It prints what QueryRecords answered as tests/interop/jaxws/QueryRecordsClient.java does:
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
import java.net.URL;
import java.util.Arrays;

import javax.xml.rpc.holders.BooleanHolder;
import javax.xml.rpc.holders.IntHolder;
import javax.xml.rpc.holders.StringHolder;

import org.apache.axis.message.MessageElement;

import local.govshare.exchange._1_0.ExchangePortType;
import local.govshare.exchange._1_0.ExchangeServiceLocator;
import local.govshare.xsd.exchange._1_0.ExchangeFault;
import local.govshare.xsd.exchange._1_0.holders.RecordsHolder;

public final class QueryRecordsClient {
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        ExchangePortType port = new ExchangeServiceLocator().getExchangePort(new URL(args[0]));
        String[] keys = Arrays.copyOfRange(args, 4, args.length);
        IntHolder total = new IntHolder();
        IntHolder pageOffset = new IntHolder();
        BooleanHolder more = new BooleanHolder();
        StringHolder source = new StringHolder();
        RecordsHolder records = new RecordsHolder();
        try {
            port.queryRecords(args[1], args[2], keys, null, Integer.valueOf(args[3]), null, null,
                              total, pageOffset, more, source, records);
        } catch (ExchangeFault fault) {
            System.err.println("ExchangeFault " + fault.getCode() + ": " + fault.getMessage1());
            System.exit(2);
        }
        out.println("total=" + total.value);
        out.println("pageOffset=" + pageOffset.value);
        out.println("more=" + more.value);
        out.println("source=" + source.value);
        MessageElement[] any = records.value.get_any();
        for (MessageElement record : any == null ? new MessageElement[0] : any) {
            out.println("record=" + record.getAsString());
        }
    }
}
