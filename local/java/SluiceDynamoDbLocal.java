import java.lang.reflect.Field;
import java.lang.reflect.Method;

/**
 * Starts AWS DynamoDB Local bound to one host (127.0.0.1 by default) instead of every interface.
 *
 * DynamoDB Local's command line has no bind-address flag, so this builds the server with its own
 * ServerRunner and sets the host of the Jetty connector before start. Everything is reached by
 * reflection so that this file compiles with a bare `javac` and no class path.
 *
 * Usage: java -Dsluice.host=127.0.0.1 -cp <launcher dir>:DynamoDBLocal.jar SluiceDynamoDbLocal [DynamoDB Local flags]
 */
public final class SluiceDynamoDbLocal {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("sluice.host", "127.0.0.1");
    Class<?> runner = Class.forName("software.amazon.dynamodb.services.local.main.ServerRunner");
    Object proxy = runner.getMethod("createServerFromCommandLineArgs", String[].class).invoke(null, (Object) args);
    Field serverField = proxy.getClass().getDeclaredField("server");
    serverField.setAccessible(true);
    Object server = serverField.get(proxy);
    Object[] connectors = (Object[]) server.getClass().getMethod("getConnectors").invoke(server);
    if (connectors.length == 0) throw new IllegalStateException("DynamoDB Local created no connector");
    for (Object connector : connectors) {
      Method setHost = connector.getClass().getMethod("setHost", String.class);
      setHost.invoke(connector, host);
    }
    proxy.getClass().getMethod("start").invoke(proxy);
    System.out.println("SluiceDynamoDbLocal listening on " + host);
    proxy.getClass().getMethod("join").invoke(proxy);
  }
}
